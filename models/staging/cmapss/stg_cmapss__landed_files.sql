{#-
    The ingestion manifest (the checkpoint, for analysts): one row per landing of a file version,
    what it was, what happened to it, whether it is the version the clean tables hold, and
    whether the file is still in the landing folder; plus one row per entry of the folder that
    is not read (a directory, a broken symbolic link), with why. Reads file versions
    (base_cmapss__landed_file_versions), never every landed line.
-#}
with file_versions as (
    select * from {{ ref('base_cmapss__landed_file_versions') }}
),

landing_entries as (
    select * from {{ ref('base_cmapss__landing_entries') }}
),

latest_entry_states as (
    select
        source_file,
        entry_state,
        state_detail,
        noticed_at
    from landing_entries
    qualify row_number() over (partition by source_file order by noticed_at desc) = 1
),

versions_judged as (
    select
        *,
        -- a version unreadable as a whole does not replace an earlier readable one
        file_error is not null
        and coalesce(
            bool_or(line_count > 0) over (
                partition by source_file order by ingested_at
                rows between unbounded preceding and 1 preceding
            ),
            false
        ) as is_rejected_version
    from file_versions
),

statuses as (
    select
        *,
        case
            when duplicate_of_source_file = source_file then 'unchanged content: not read again'
            when duplicate_of_source_file is not null
                then 'same content as ' || duplicate_of_source_file || ': not read again'
            when is_rejected_version
                then 'rejected: ' || file_error || '; the earlier version' || chr(39) || 's rows are kept'
            when file_kind = 'unrecognised' then 'quarantined: unrecognised file name'
            when file_error is not null then 'quarantined: ' || file_error
            else 'ingested'
        end as ingestion_status,
        {{ is_current_file_version('not is_rejected_version') }} as is_current_version,
        ingested_at = max(ingested_at) over (partition by source_file) as is_latest_landing,
        min(ingested_at) over (partition by source_file) as first_ingested_at,
        max(ingested_at) over (partition by source_file) as last_ingested_at
    from versions_judged
),

landings as (
    select
        statuses.file_version_id,
        statuses.source_file,
        statuses.file_name,
        statuses.file_kind,
        statuses.dataset,
        statuses.split,
        statuses.file_size_bytes,
        statuses.file_modified_at,
        statuses.file_content_md5,
        statuses.ingested_at,
        statuses.line_count,
        statuses.unreadable_line_count,
        statuses.file_error,
        statuses.duplicate_of_source_file,
        statuses.ingestion_status,
        statuses.is_current_version,
        statuses.is_rejected_version,
        statuses.first_ingested_at,
        statuses.last_ingested_at,
        coalesce(latest_entry_states.entry_state = 'missing', false) as is_deleted_from_landing,
        case when latest_entry_states.entry_state = 'missing' then latest_entry_states.noticed_at end
            as deleted_from_landing_at,
        latest_entry_states.noticed_at as landing_state_noticed_at,
        case
            when latest_entry_states.entry_state = 'missing' and statuses.is_latest_landing
                then 'deleted_from_landing: the file left the landing folder after ingestion; its rows are kept'
            when statuses.is_rejected_version and statuses.is_latest_landing
                then 'rejected_version: ' || statuses.file_error
                || '; the earlier version' || chr(39) || 's rows are kept'
        end as landing_problem
    from statuses
    left join latest_entry_states
        on statuses.source_file = latest_entry_states.source_file
),

skipped_entries as (
    select
        md5(concat_ws('|', source_file, entry_state, cast(noticed_at as string))) as file_version_id,
        source_file,
        regexp_extract(source_file, '[^/\\]+$', 0) as file_name,
        cast(null as string) as file_kind,
        cast(null as string) as dataset,
        cast(null as string) as split,
        cast(null as bigint) as file_size_bytes,
        cast(null as timestamp) as file_modified_at,
        cast(null as string) as file_content_md5,
        cast(null as timestamp) as ingested_at,
        cast(0 as bigint) as line_count,
        cast(0 as bigint) as unreadable_line_count,
        cast(null as string) as file_error,
        cast(null as string) as duplicate_of_source_file,
        'skipped: ' || coalesce(state_detail, entry_state) || '; never read' as ingestion_status,
        false as is_current_version,
        false as is_rejected_version,
        cast(null as timestamp) as first_ingested_at,
        cast(null as timestamp) as last_ingested_at,
        false as is_deleted_from_landing,
        cast(null as timestamp) as deleted_from_landing_at,
        noticed_at as landing_state_noticed_at,
        entry_state || ': ' || coalesce(state_detail, entry_state) || ', skipped (never read)' as landing_problem
    from latest_entry_states
    where entry_state in ('directory', 'dangling_symlink', 'not_a_regular_file', 'undecodable_name')
),

final as (
    select * from landings
    union all
    select * from skipped_entries
)

select * from final
