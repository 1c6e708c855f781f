{#-
    Every landed line of a sensor file, split into tokens and typed, with the reason it is
    rejected (null when it is a good reading). The one place the line format is checked:
    stg_cmapss__sensor_readings keeps the good lines, stg_cmapss__quarantined_lines the rest.
-#}
{%- set settings = cmapss_setting_columns() %}
{%- set sensors = cmapss_sensor_columns() %}
{%- set expected_columns = cmapss_column_count() %}

with landed_lines as (
    select * from {{ ref('base_cmapss__landed_lines') }}
    where file_kind = 'sensor_readings'
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
            when file_error is not null then file_error
            when {{ array_length('tokens') }} = 0 then 'blank line'
            when {{ array_length('tokens') }} < {{ expected_columns }}
                then 'too few columns: ' || {{ array_length('tokens') }} || ' of {{ expected_columns }}'
            when {{ array_length('tokens') }} > {{ expected_columns }}
                then 'too many columns: ' || {{ array_length('tokens') }} || ' of {{ expected_columns }}'
            when {{ first_non_numeric_token('tokens') }} is not null
                then 'non-numeric value: ''' || {{ first_non_numeric_token('tokens') }} || ''''
            when {{ has_non_finite_token('tokens') }} then 'NaN or infinite value'
            when try_cast({{ array_element('tokens', 1) }} as double)
                    != floor(try_cast({{ array_element('tokens', 1) }} as double))
                or try_cast({{ array_element('tokens', 1) }} as double) <= 0
                then 'unit number is not a positive integer: ' || {{ array_element('tokens', 1) }}
            when try_cast({{ array_element('tokens', 2) }} as double)
                    != floor(try_cast({{ array_element('tokens', 2) }} as double))
                or try_cast({{ array_element('tokens', 2) }} as double) <= 0
                then 'cycle is not a positive integer: ' || {{ array_element('tokens', 2) }}
        end as rejection_reason
    from tokenised
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
        rejection_reason,
        cast(try_cast({{ array_element('tokens', 1) }} as double) as integer) as unit_number,
        cast(try_cast({{ array_element('tokens', 2) }} as double) as integer) as cycle,
        {%- for column in settings + sensors %}
        try_cast({{ array_element('tokens', loop.index + 2) }} as double) as {{ column }},
        {%- endfor %}
        ingested_at
    from checked
)

select * from typed
