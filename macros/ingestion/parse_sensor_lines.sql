{#-
    Parse, once, the landed lines of sensor files (an erased unit's lines aside) that meet `condition` (SQL on bronze's
    columns, e.g. ingested_at after a watermark): split into tokens, typed, with the rule each line breaks (null when
    it is a good reading). The one place the line format is checked:
    base_cmapss__sensor_lines_parsed runs it on the lines its consumers have not processed yet,
    and a consumer whose watermark that batch does not cover (built alone with --full-refresh)
    runs it itself (sensor_lines_to_process, below).

    Schema drift: a file whose lines carry more than the 26 published columns (a new sensor)
    is accepted; the values past the 26th are kept in order in extra_values. What must hold is
    that a line has at least 26 columns, at most var max_extra_columns more (a new sensor or
    two; a line holding two readings, 52 values, is not one), and as many as most lines of its
    file: a line that differs from its file's usual column count is truncated or garbled, and
    quarantined. Unit and cycle are written as whole numbers (is_whole_number_token: `12` or
    `12.0`, not `1.2e1`) from 1 to the largest integer; other values are any finite number a cast
    reads, an exponent included, but not one with an underscore (first_non_numeric_token), nor one
    larger in magnitude than var max_abs_value (a sentinel such as 3.4e38): silver's exact sums
    (decimal baselines, fixed-point windows) would overflow on it and stop every build.
-#}
{% macro parse_sensor_lines(condition) -%}
{%- set settings = cmapss_setting_columns() %}
{%- set sensors = cmapss_sensor_columns() %}
{%- set expected_columns = cmapss_column_count() %}
{%- set max_columns = expected_columns + var('max_extra_columns') %}
{%- set max_abs_value = var('max_abs_value') %}
with landed_lines as (
    select * from {{ ref('base_cmapss__landed_lines') }}
    where file_kind = 'sensor_readings' and duplicate_of_source_file is null and erased_at is null
        and ({{ condition }})
),

tokenised as (
    select
        *,
        {{ split_whitespace('raw_line') }} as tokens
    from landed_lines
),

checked as (
    select
        *,
        case
            when file_error is not null then 'unreadable_file'
            when line_error is not null then 'not_utf8_text'
            when column_count = 0 then 'blank_line'
            when column_count < {{ expected_columns }} then 'too_few_columns'
            when column_count > {{ max_columns }} then 'too_many_columns'
            when column_count != file_column_count then 'column_count_differs_from_file'
            when {{ first_non_numeric_token('tokens') }} is not null then 'non_numeric_value'
            when {{ has_non_finite_token('tokens') }} then 'non_finite_value'
            when {{ first_out_of_range_token('tokens', 2, max_abs_value) }} is not null then 'value_out_of_range'
            when not {{ is_whole_number_token(array_element('tokens', 1)) }}
                or coalesce({{ token_as_integer(array_element('tokens', 1)) }}, 0) <= 0
                then 'unit_not_positive_integer'
            when not {{ is_whole_number_token(array_element('tokens', 2)) }}
                or coalesce({{ token_as_integer(array_element('tokens', 2)) }}, 0) <= 0
                then 'cycle_not_positive_integer'
        end as rejection_rule
    from tokenised
),

explained as (
    select
        *,
        case rejection_rule
            when 'unreadable_file' then file_error
            when 'not_utf8_text' then line_error
            when 'blank_line' then 'blank line'
            when 'too_few_columns'
                then 'too few columns: ' || column_count || ' of {{ expected_columns }}'
            when 'too_many_columns'
                then 'too many columns: ' || column_count || ', more than {{ max_columns }} ({{ expected_columns }} and '
                || '{{ var("max_extra_columns") }} extra: var max_extra_columns)'
            when 'column_count_differs_from_file'
                then column_count || ' columns where the rest of the file has ' || file_column_count
            when 'non_numeric_value'
                then 'non-numeric value: ' || chr(39) || {{ first_non_numeric_token('tokens') }} || chr(39)
            when 'non_finite_value' then 'NaN or infinite value'
            when 'value_out_of_range'
                then 'value out of range: ' || chr(39) || {{ first_out_of_range_token('tokens', 2, max_abs_value) }}
                || chr(39) || ', beyond +/-{{ max_abs_value }} (var max_abs_value)'
            when 'unit_not_positive_integer'
                then 'unit number is not a positive integer: ' || {{ array_element('tokens', 1) }}
            when 'cycle_not_positive_integer'
                then 'cycle is not a positive integer: ' || {{ array_element('tokens', 2) }}
        end as rejection_reason
    from checked
),

typed as (
    select
        file_version_id,
        source_file,
        file_name,
        dataset,
        split,
        line_number,
        raw_line,
        rejection_rule,
        rejection_reason,
        {{ token_as_integer(array_element('tokens', 1)) }} as unit_number,
        {{ token_as_integer(array_element('tokens', 2)) }} as cycle,
        {%- for column in settings + sensors %}
        try_cast({{ array_element('tokens', loop.index + 2) }} as double) as {{ column }},
        {%- endfor %}
        {{ array_tail_as_doubles('tokens', expected_columns) }} as extra_values,
        ingested_at
    from explained
)

select * from typed
{%- endmacro %}

{#-
    The staging models that read the parsed sensor lines; each keeps its own watermark in
    bronze.ingestion_watermarks.
-#}
{% macro parsed_sensor_line_consumers() -%}
    {{ return(['stg_cmapss__sensor_readings', 'stg_cmapss__quarantined_lines']) }}
{%- endmacro %}

{#-
    Where base_cmapss__sensor_lines_parsed starts its batch: after the oldest watermark of its
    consumers, or from the start when a consumer has none, its table is missing, or this is a
    full refresh. A no-op build parses nothing; a first build parses every line once.
    parse_batch_condition is the model's filter (its unit tests override it with `true`).
-#}
{% macro parse_batch_condition() -%}
    ingested_at > {{ parse_batch_start() }}
{%- endmacro %}

{% macro parse_batch_start() -%}
    {%- set consumers = parsed_sensor_line_consumers() -%}
    {%- set ns = namespace(all_built=true) -%}
    {%- if execute -%}
        {#- not ref(): the consumers read this model; they live in its schema (bronze) -#}
        {%- for consumer in consumers -%}
            {%- if adapter.get_relation(this.database, this.schema, consumer) is none -%}
                {%- set ns.all_built = false -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if flags.FULL_REFRESH or not ns.all_built or rebuilds_incrementals_whole() -%}
        {{ timestamp_before_all() }}
    {%- else -%}
        (
            select
                case
                    when count(*) = {{ consumers | length }} then min(processed_through)
                    else {{ timestamp_before_all() }}
                end
            from bronze.ingestion_watermarks
            where model_name in ('{{ consumers | join("', '") }}')
        )
    {%- endif -%}
{%- endmacro %}

{#-
    What a consumer of the parsed lines reads: base_cmapss__sensor_lines_parsed when its batch
    starts at or before the consumer's watermark (always, when they are built together), else
    the lines parsed here and now (a consumer rebuilt on its own with --full-refresh), so no
    consumer ever misses a line.
-#}
{% macro sensor_lines_to_process() -%}
    {%- set batch = ref('base_cmapss__sensor_lines_parsed') -%}
    {%- set covered = namespace(value=true) -%}
    {#- an engine that rebuilds the consumers whole parses every line in the batch (parse_batch_start) -#}
    {#- no watermark table yet (compiling before any build: dbt compile, sqlfluff): nothing processed -#}
    {%- if execute and not rebuilds_incrementals_whole() and adapter.get_relation(
        database=target.database, schema='bronze', identifier='ingestion_watermarks') is not none -%}
        {%- set check -%}
            select
                coalesce((
                    select max(processed_through) from bronze.ingestion_watermarks
                    where model_name = 'base_cmapss__sensor_lines_parsed'
                ), {{ timestamp_after_all() }}) <= {{ incremental_watermark() }}
        {%- endset -%}
        {%- set covered.value = run_query(check).columns[0].values()[0] -%}
    {%- endif -%}
    {%- if covered.value -%}
        {{ batch }}
    {%- else -%}
        ({{ parse_sensor_lines('ingested_at > ' ~ incremental_watermark()) }}) as parsed_here
    {%- endif -%}
{%- endmacro %}

{#- Post-hook of base_cmapss__sensor_lines_parsed: where its batch started. -#}
{% macro record_parse_batch_start() %}
    {{ return(adapter.dispatch('record_parse_batch_start', 'pdm_lakehouse')()) }}
{% endmacro %}

{#- Spark: the batch always starts at the start there (parse_batch_start); renders no statement. -#}
{% macro spark__record_parse_batch_start() %}{% endmacro %}

{% macro default__record_parse_batch_start() %}
    insert or replace into bronze.ingestion_watermarks (model_name, processed_through, updated_at)
    select 'base_cmapss__sensor_lines_parsed', {{ parse_batch_start() }}, {{ ingestion_timestamp() }}
{% endmacro %}
