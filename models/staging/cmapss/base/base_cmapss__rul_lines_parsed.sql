{#-
    Every landed line of a RUL truth file, typed, with the reason it is rejected (null when
    good). Line i of RUL_FDnnn.txt is the true remaining life of test unit i of test_FDnnn.txt.
    A remaining life is a count: a whole number written plainly (is_whole_number_token: `60`,
    `+60` or `60.0`; not `-1`, `6e1`, `nan`); a token a cast cannot read, or with an underscore
    (`6_0`), is non_numeric_value (first_non_numeric_token, as for sensor lines).
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
        case
            when file_error is not null then 'unreadable_file'
            when line_error is not null then 'not_utf8_text'
            when {{ array_length('tokens') }} = 0 then 'blank_line'
            when {{ array_length('tokens') }} != 1 then 'rul_not_one_value'
            when {{ first_non_numeric_token('tokens') }} is not null then 'non_numeric_value'
            when not {{ is_whole_number_token(array_element('tokens', 1)) }}
                or {{ token_as_integer(array_element('tokens', 1)) }} is null
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
        {{ token_as_integer(array_element('tokens', 1)) }} as rul_cycles,
        ingested_at
    from explained
)

select * from final
