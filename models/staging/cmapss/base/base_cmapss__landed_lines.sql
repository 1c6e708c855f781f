{#-
    Bronze, raw: every line of every file version landed, as text, with where it came from.
    This is the ingestion checkpoint: each build lists the landing folder, reads only the files
    whose version (path, size, modification time) is not the newest here of their path
    (files_not_yet_ingested), and appends their lines. Nothing is ever updated or deleted, so a
    corrected file's earlier version stays here for audit; the staging models above it take the
    newest version of each file. Bytes already held are not read twice: a landing whose content
    is a file's current content (the file itself touched, or a copy under another name of the
    same kind, dataset and split) gets one row, `duplicate_of_source_file` naming that file. A
    copy is read again with its original when that is re-landed, and holds the content from
    then on if the original changed.
    Every line carries when bronze first took in its content (content_ingested_at): this build's
    start, but in a rebuild (a full refresh; every build on Spark, where bronze is a table rebuilt
    whole) the time the table it replaces holds for that content, so the rebuild ranks duplicated
    readings as the incremental builds did (silver's latest delivery wins); of files with one
    content, it reads the one that held it as the original, the others as copies.
    Only stable files are read: a file whose size or modification time changes during the settle
    interval (var landing_settle_seconds) is still being written, and is held back until a later
    build; a file the var landing_settled_files names as whole (the watcher saw it closed or moved
    in) is not waited for. Directories, broken symbolic links and other non-files are never read.
    The build warns, naming each entry it held back or skipped.
    Erased units (`make erase`, the tombstone stg_erasures__erased_units) never enter: a line of an
    erased unit (a sensor line whose first token is its unit number, or line i of its dataset's RUL
    file for test unit i) is kept as a row, so the file's line count and the checkpoint hold, but
    with no text (raw_line and column_count null) and `erased_at` set; nothing parses it. Lines
    already here when a unit is erased are blanked the same way in place by lakehouse/erase.py.
    The root of the landing's increments: its pre-hooks (every model's first) stop a build that
    started before another build that has already written (macros/incremental/assert_no_newer_build.sql),
    and a full refresh (any build on Spark) that would drop the rows of files no longer in the
    landing folder (rows an incremental build keeps; macros/ingestion/assert_full_refresh_keeps_landed_rows.sql,
    the var full_refresh_drops_deleted_files accepts the loss), or that would drop, until a later
    build, the rows of files being rewritten in place (held back: checked as the model compiles,
    macros/ingestion/assert_rebuild_holds_back_no_ingested_file.sql); everything downstream is then
    skipped. On Spark, where dbt-spark drops a table before it writes the new one, a second pre-hook
    moves the table being replaced aside, and the post-hook drops it once the new one is written: a
    build that stops in between leaves it for the next build's checks and content times
    (macros/ingestion/replaced_table.sql).
-#}
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook=[
            "{{ assert_full_refresh_keeps_landed_rows() }}",
            "{{ move_replaced_table_aside() }}",
        ],
        post_hook="{{ drop_replaced_table() }}",
    )
}}

-- depends_on: {{ source('cmapss', 'sensor_files') }}
-- depends_on: {{ ref('stg_erasures__erased_units') }}
-- depends_on: {{ source('cmapss', 'rul_files') }}

{%- set entries = list_landed_files(var('landing_path'), var('landing_settle_seconds'), var('landing_settled_files')) %}
{%- set listed = entries | selectattr('entry_kind', 'equalto', 'file') | list %}
{%- set new_files = files_not_yet_ingested(listed, this if is_incremental() else none) %}
{#- the table this build replaces (a full refresh; every build on Spark), and when it first took in each content -#}
{%- set replaced = table_being_replaced() if execute and replaces_from_folder_alone() else none %}
{%- set replaced_contents = replaced_bronze_contents(replaced) if replaced is not none else none %}
{%- if execute %}
    {{ log('Landing folder: ' ~ listed | length ~ ' files, ' ~ new_files | length ~ ' new or changed', info=true) }}
    {%- for f in new_files %}
        {%- set file_name = f.source_file.replace('\\', '/').split('/') | last %}
        {%- if not modules.re.match(cmapss_file_name_regex() | trim, file_name) %}
    {{ log("WARNING: landing file '" ~ f.source_file ~ "' does not match train_FDnnn.txt, test_FDnnn.txt "
        ~ "or RUL_FDnnn.txt: quarantined whole (bronze.stg_cmapss__quarantined_lines)", info=true) }}
        {%- endif %}
    {%- endfor %}
    {%- for f in entries if f.entry_kind == 'settling' %}
        {%- do exceptions.warn("WARNING: landing file '" ~ f.source_file ~ "' held back: " ~ f.detail
            ~ "; it is read by a later build once it is stable") %}
    {%- endfor %}
    {%- for f in entries if f.entry_kind not in ('file', 'settling') %}
        {%- do exceptions.warn("WARNING: landing entry '" ~ f.source_file ~ "' skipped: " ~ f.detail
            ~ " (listed in bronze.stg_cmapss__landed_files)") %}
    {%- endfor %}
    {%- if replaced is not none %}
    {{- assert_rebuild_holds_back_no_ingested_file(entries, replaced) }}
    {%- endif %}
{%- endif %}

with landed_lines as (
    -- read once, streamed into the table: the file-level facts below come from their own reading
    -- (one row per file), so the batch's lines are never held in memory to be read twice
    {{ read_landed_lines(new_files) }}
),

landed_files as (
    {{ read_landed_files(new_files) }}
),

batch_files as (
    select
        *,
        {{ landed_file_class('source_file') }} as file_class
    from landed_files
),

{%- if replaced_contents is not none %}
content_ingestions as (
    -- a rebuild only (a full refresh; every build on Spark): when bronze first took in each batch
    -- file's content, where the table it replaces held that content (same kind, dataset and split,
    -- same md5) as some file's current version, and still would after an incremental build of this
    -- folder (that file is gone, or here with the same content): that version's content_ingested_at
    -- (replaced_bronze_contents). Other content gets this build's start (keyed, below), as an
    -- incremental build would give it. (current_contents, below, asks the same of an incremental
    -- build's batch.) Silver's latest-delivery rule ranks by it, so a rebuild ranks the deliveries
    -- as the incremental builds did, and the file that held a content keeps it from its copies
    select
        batch_files.source_file,
        max(held_contents.content_ingested_at) as content_ingested_at,
        -- the file itself held it: of batch files with one content, it is read as the original
        bool_or(held_contents.source_file = batch_files.source_file) as held_it_before
    from batch_files
    inner join (
        {{ replaced_contents }}
    ) as held_contents
        on batch_files.file_content_md5 = held_contents.file_content_md5
        and batch_files.file_class = held_contents.file_class
    left join batch_files as holder_now
        on held_contents.source_file = holder_now.source_file
        and holder_now.file_error is null
    where batch_files.file_error is null
        and held_contents.is_current_version
        and coalesce(holder_now.file_content_md5 = held_contents.file_content_md5, true)
    group by batch_files.source_file
),
{%- endif %}

current_contents as (
    -- the content each file's rows in the clean tables hold, from the table of versions (never a pass
    -- over the lines): its current version's (is_current_file_version: none when its newest content was
    -- a copy of another file, which holds the rows), unless this batch brings the file with other
    -- content; only when there is a file to compare with it
    {%- if is_incremental() and new_files | length > 0 %}
    select
        current_versions.source_file,
        current_versions.file_content_md5,
        {{ landed_file_class('current_versions.source_file') }} as file_class
    from (
        select
            source_file,
            file_content_md5,
            {{ is_current_file_version('file_error is null') }} as is_current_version
        from ({{ ingested_file_versions(this) }}) as versions
    ) as current_versions
    left join batch_files
        on current_versions.source_file = batch_files.source_file
        and batch_files.file_error is null
    where current_versions.is_current_version
        and coalesce(batch_files.file_content_md5 = current_versions.file_content_md5, true)
    {%- else %}
    {{ empty_relation({'source_file': 'varchar', 'file_content_md5': 'varchar', 'file_class': 'varchar'}) }}
    {%- endif %}
),

batch_originals as (
    -- of batch files with one content, the one read as the original (the others land as its copies):
    -- the name that sorts first; in a full refresh, the file that held the content before, if here
    select
        batch_files.file_content_md5,
        batch_files.file_class,
        {%- if replaced_contents is not none %}
        coalesce(
            min(case when content_ingestions.held_it_before then batch_files.source_file end),
            min(batch_files.source_file)
        ) as first_source_file
    from batch_files
    left join content_ingestions
        on batch_files.source_file = content_ingestions.source_file
        {%- else %}
        min(batch_files.source_file) as first_source_file
    from batch_files
        {%- endif %}
    where batch_files.file_error is null
    group by batch_files.file_content_md5, batch_files.file_class
),

file_duplicates as (
    -- the same file's own current content first, then another file's, then an earlier file of this
    -- batch; only under the same kind of file for the same dataset and split (a file's name says what
    -- its lines are: the same bytes as a train file, named as a test file, are other data)
    select
        batch_files.source_file,
        coalesce(
            max(
                case when current_contents.source_file = batch_files.source_file then current_contents.source_file end
            ),
            min(current_contents.source_file),
            nullif(min(batch_originals.first_source_file), batch_files.source_file)
        ) as duplicate_of_source_file
    from batch_files
    left join current_contents
        on batch_files.file_content_md5 = current_contents.file_content_md5
        and batch_files.file_class = current_contents.file_class
    left join batch_originals
        on batch_files.file_content_md5 = batch_originals.file_content_md5
        and batch_files.file_class = batch_originals.file_class
    where batch_files.file_error is null
    group by batch_files.source_file
),

earlier_landings as (
    -- how many times bronze read each batch file's version (path, size, time) before: none, but for the
    -- same bytes read again (a copy taking over the content it copied; an earlier version put back)
    {%- if is_incremental() and new_files | length > 0 %}
    select
        source_file,
        file_size_bytes,
        file_modified_at,
        count(distinct ingested_at) as landings
    from ({{ ingested_file_versions(this) }}) as versions
    where source_file in (select batch_files.source_file from batch_files)
    group by source_file, file_size_bytes, file_modified_at
    {%- else %}
    {{ empty_relation({'source_file': 'varchar', 'file_size_bytes': 'bigint', 'file_modified_at': 'timestamp',
        'landings': 'bigint'}) }}
    {%- endif %}
),

deduplicated_lines as (
    select
        landed_lines.*,
        cast(null as string) as duplicate_of_source_file
    from landed_lines
    left join file_duplicates
        on landed_lines.source_file = file_duplicates.source_file
    where file_duplicates.duplicate_of_source_file is null
    union all
    select
        landed_files.source_file,
        landed_files.file_size_bytes,
        landed_files.file_modified_at,
        landed_files.file_content_md5,
        0 as line_number,
        cast(null as string) as raw_line,
        cast(null as string) as file_error,
        cast(null as string) as line_error,
        file_duplicates.duplicate_of_source_file
    from landed_files
    inner join file_duplicates
        on landed_files.source_file = file_duplicates.source_file
    where file_duplicates.duplicate_of_source_file is not null
),

named as (
    select
        *,
        regexp_extract(source_file, '[^/\\]+$', 0) as file_name,
        -- computed once here, for new lines only, so the parsers above need no window over history
        {{ array_length(split_whitespace('raw_line')) }} as column_count
    from deduplicated_lines
),

classified as (
    select
        *,
        regexp_extract(file_name, '{{ cmapss_file_name_regex() }}', 1) as file_name_prefix,
        nullif(regexp_extract(file_name, '{{ cmapss_file_name_regex() }}', 2), '') as dataset
    from named
),

attributed as (
    -- the unit a line belongs to: a sensor line's first token; line i of a RUL file is test unit i
    select
        *,
        case file_name_prefix
            when 'train' then 'train'
            when 'test' then 'test'
            when 'RUL' then 'test'
        end as split,
        case
            when file_name_prefix in ('train', 'test') then {{ raw_line_unit_number('raw_line') }}
            when file_name_prefix = 'RUL' and line_number > 0 then line_number
        end as line_unit_number
    from classified
),

erased_units as (
    select * from {{ ref('stg_erasures__erased_units') }}
),

erasures_applied as (
    select
        attributed.source_file,
        attributed.file_name,
        attributed.file_name_prefix,
        attributed.dataset,
        attributed.split,
        attributed.file_size_bytes,
        attributed.file_modified_at,
        attributed.file_content_md5,
        attributed.line_number,
        attributed.file_error,
        attributed.line_error,
        attributed.duplicate_of_source_file,
        case when erased_units.erased_at is null then attributed.raw_line end as raw_line,
        case when erased_units.erased_at is null then attributed.column_count end as column_count,
        erased_units.erased_at
    from attributed
    left join erased_units
        on attributed.dataset = erased_units.dataset
        and attributed.split = erased_units.split
        and attributed.line_unit_number = erased_units.unit_number
),

keyed as (
    -- a landing's key: its version's (path, size, time), and how many times bronze read that version
    -- before when it did (the same bytes read again), so every landing has its own
    select
        erasures_applied.*,
        md5(concat_ws(
            '|', erasures_applied.source_file, cast(erasures_applied.file_size_bytes as string),
            cast(erasures_applied.file_modified_at as string), cast(earlier_landings.landings as string)
        )) as file_version_id,
        {%- if replaced_contents is not none %}
        coalesce(content_ingestions.content_ingested_at, {{ ingestion_timestamp() }}) as content_ingested_at
        {%- else %}
        {{ ingestion_timestamp() }} as content_ingested_at
        {%- endif %}
    from erasures_applied
    left join earlier_landings
        on erasures_applied.source_file = earlier_landings.source_file
        and erasures_applied.file_size_bytes = earlier_landings.file_size_bytes
        and erasures_applied.file_modified_at = earlier_landings.file_modified_at
    {%- if replaced_contents is not none %}
    left join content_ingestions
        on erasures_applied.source_file = content_ingestions.source_file
    {%- endif %}
),

final as (
    select
        file_version_id,
        source_file,
        file_name,
        case file_name_prefix
            when 'train' then 'sensor_readings'
            when 'test' then 'sensor_readings'
            when 'RUL' then 'rul_truth'
            else 'unrecognised'
        end as file_kind,
        dataset,
        split,
        file_size_bytes,
        file_modified_at,
        file_content_md5,
        line_number,
        raw_line,
        file_error,
        duplicate_of_source_file,
        column_count,
        -- of the lines holding values: blank lines (and the file-level row, both 0) would otherwise
        -- outvote a file's few readings and quarantine them as differing from the file
        mode(case when column_count > 0 then column_count end) over (partition by source_file) as file_column_count,
        {{ ingestion_timestamp() }} as ingested_at,
        line_error,
        erased_at,
        content_ingested_at
    from keyed
)

select * from final
