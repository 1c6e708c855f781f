{#-
    Every landed line of a RUL truth file, typed, with the reason it is rejected (null when
    good). Line i of RUL_FDnnn.txt is the true remaining life of test unit i of test_FDnnn.txt.
    The line of an erased test unit is not parsed (base_cmapss__landed_lines.erased_at).
-#}
with landed_lines as (
    select * from {{ ref('base_cmapss__landed_lines') }}
    where file_kind = 'rul_truth' and duplicate_of_source_file is null and erased_at is null
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
        try_cast({{ array_element('tokens', 1) }} as double) as rul_value,
        case
            when file_error is not null then 'unreadable_file'
            when line_error is not null then 'not_utf8_text'
            when {{ array_length('tokens') }} = 0 then 'blank_line'
            when {{ array_length('tokens') }} != 1 then 'rul_not_one_value'
            when try_cast({{ array_element('tokens', 1) }} as double) is null then 'non_numeric_value'
            when not {{ is_finite("try_cast(" ~ array_element('tokens', 1) ~ " as double)") }}
                or try_cast({{ array_element('tokens', 1) }} as double)
                != floor(try_cast({{ array_element('tokens', 1) }} as double))
                or try_cast({{ array_element('tokens', 1) }} as double) < 0
                then 'rul_not_non_negative_integer'
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
            when 'rul_not_one_value' then 'expected one value, found ' || {{ array_length('tokens') }}
            when 'non_numeric_value'
                then 'non-numeric value: ' || chr(39) || {{ array_element('tokens', 1) }} || chr(39)
            when 'rul_not_non_negative_integer'
                then 'remaining life is not a non-negative integer: ' || {{ array_element('tokens', 1) }}
        end as rejection_reason
    from checked
),

final as (
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
        line_number as unit_number,
        cast(rul_value as integer) as rul_cycles,
        ingested_at
    from explained
)

select * from final
