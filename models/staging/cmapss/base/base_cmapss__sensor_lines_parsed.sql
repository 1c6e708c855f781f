{#-
    Every landed line of a sensor file, split into tokens and typed, with the rule it breaks
    (null when it is a good reading). The one place the line format is checked:
    stg_cmapss__sensor_readings keeps the good lines, stg_cmapss__quarantined_lines the rest.

    Schema drift: a file whose lines carry more than the 26 published columns (a new sensor)
    is accepted; the values past the 26th are kept in order in extra_values. What must hold is
    that a line has at least 26 columns and as many as most lines of its file: a line that
    differs from its file's usual column count is truncated or garbled, and quarantined.
-#}
{%- set settings = cmapss_setting_columns() %}
{%- set sensors = cmapss_sensor_columns() %}
{%- set expected_columns = cmapss_column_count() %}

with landed_lines as (
    select * from {{ ref('base_cmapss__landed_lines') }}
    where file_kind = 'sensor_readings' and duplicate_of_source_file is null
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
            when column_count != file_column_count then 'column_count_differs_from_file'
            when {{ first_non_numeric_token('tokens') }} is not null then 'non_numeric_value'
            when {{ has_non_finite_token('tokens') }} then 'non_finite_value'
            when try_cast({{ array_element('tokens', 1) }} as double)
                != floor(try_cast({{ array_element('tokens', 1) }} as double))
                or try_cast({{ array_element('tokens', 1) }} as double) <= 0
                then 'unit_not_positive_integer'
            when try_cast({{ array_element('tokens', 2) }} as double)
                != floor(try_cast({{ array_element('tokens', 2) }} as double))
                or try_cast({{ array_element('tokens', 2) }} as double) <= 0
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
            when 'column_count_differs_from_file'
                then column_count || ' columns where the rest of the file has ' || file_column_count
            when 'non_numeric_value'
                then 'non-numeric value: ''' || {{ first_non_numeric_token('tokens') }} || ''''
            when 'non_finite_value' then 'NaN or infinite value'
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
        cast(try_cast({{ array_element('tokens', 1) }} as double) as integer) as unit_number,
        cast(try_cast({{ array_element('tokens', 2) }} as double) as integer) as cycle,
        {%- for column in settings + sensors %}
        try_cast({{ array_element('tokens', loop.index + 2) }} as double) as {{ column }},
        {%- endfor %}
        {{ array_tail_as_doubles('tokens', expected_columns) }} as extra_values,
        ingested_at
    from explained
)

select * from typed
