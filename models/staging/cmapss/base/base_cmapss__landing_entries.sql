{#-
    Bronze, append-only: what each path of the landing folder was, each time that changed, as
    seen by the builds. Each build lists the folder (after base_cmapss__landed_lines has read it)
    and appends a row for every path whose state differs from the last one recorded: a new file,
    a file gone (`missing`: for an ingested file, deleted from the landing folder after
    ingestion; its rows are kept, and a full refresh stops rather than drop them), a directory, a broken symbolic link or another non-file (never
    read). The manifest (stg_cmapss__landed_files) shows the latest state of each path. The build
    warns, naming every ingested file that is missing from the folder.
-#}
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='append',
    )
}}

-- depends_on: {{ ref('base_cmapss__landed_lines') }}

{%- set changes = [] %}
{%- if execute %}
    {%- set listed = {} %}
    {%- for entry in list_landed_files(var('landing_path')) %}
        {#- a file still being written is there all the same -#}
        {%- do listed.update({entry.source_file: {
            'state': 'file' if entry.entry_kind in ('file', 'settling') else entry.entry_kind,
            'detail': entry.detail,
        }}) %}
    {%- endfor %}
    {%- set known_query %}
        with ingested as (
            select distinct source_file
            from ({{ ingested_file_versions(ref('base_cmapss__landed_lines')) }}) as versions
        ),

        recorded as (
            {%- if is_incremental() %}
            select source_file, entry_state, noticed_at
            from {{ this }}
            qualify row_number() over (partition by source_file order by noticed_at desc) = 1
            {%- else %}
            {{ empty_relation({'source_file': 'varchar', 'entry_state': 'varchar', 'noticed_at': 'timestamp'}) }}
            {%- endif %}
        )

        select
            coalesce(recorded.source_file, ingested.source_file) as source_file,
            recorded.entry_state,
            cast(recorded.noticed_at as string) as noticed_at,
            ingested.source_file is not null as was_ingested
        from recorded
        full outer join ingested
            on recorded.source_file = ingested.source_file
        order by 1
    {%- endset %}
    {%- set known = {} %}
    {%- set landed_lines_exist = load_relation(ref('base_cmapss__landed_lines')) is not none %}
    {%- set known_rows = run_query(known_query).rows if landed_lines_exist else [] %}
    {%- for row in known_rows %}
        {%- do known.update({row[0]: {'state': row[1], 'noticed_at': row[2], 'was_ingested': row[3]}}) %}
        {%- set now = listed.get(row[0], {'state': 'missing', 'detail': 'not in the landing folder'}) %}
        {%- if now.state != row[1] %}
            {%- do changes.append([
                sql_string(row[0]), sql_string(now.state), sql_string(now.detail) if now.detail else 'null'
            ]) %}
        {%- endif %}
        {%- if now.state == 'missing' and row[3] %}
            {%- do exceptions.warn("WARNING: landed file '" ~ row[0] ~ "' was deleted from the landing folder (noticed "
                ~ (row[2] if row[1] == 'missing' else 'now') ~ "): its rows are kept; "
                ~ "bronze.stg_cmapss__landed_files flags it deleted_from_landing") %}
        {%- endif %}
    {%- endfor %}
    {%- for source_file, now in listed.items() if source_file not in known %}
        {%- do changes.append([
            sql_string(source_file), sql_string(now.state), sql_string(now.detail) if now.detail else 'null'
        ]) %}
    {%- endfor %}
{%- endif %}

with changes as (
    {{ literal_relation({'source_file': 'varchar', 'entry_state': 'varchar', 'state_detail': 'varchar'}, changes) }}
),

final as (
    select
        cast(source_file as string) as source_file,
        cast(entry_state as string) as entry_state,
        cast(state_detail as string) as state_detail,
        {{ ingestion_timestamp() }} as noticed_at
    from changes
)

select * from final
