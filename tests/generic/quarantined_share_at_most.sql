{#- Files (rows of a data-quality model) whose quarantined share of lines exceeds max_share.
    Applied twice in mart_data_quality.yml: as a warning past one limit, an error past another.
    Line-level quality only: files rejected whole (unreadable, unrecognised name) have their
    own warning and never fail the build, so the other files still load. -#}
{% test quarantined_share_at_most(model, max_share, whole_file_outcomes=['unreadable_file', 'unrecognised_file_name']) %}

with line_outcomes as (
    select * from {{ model }}
    where outcome not in ({% for outcome in whole_file_outcomes %}'{{ outcome }}'{{ ", " if not loop.last }}{% endfor %})
),

per_file as (
    select
        file_version_id,
        source_file,
        sum(case when is_quarantined then line_count else 0 end) / cast(sum(line_count) as double)
            as quarantined_share
    from line_outcomes
    group by file_version_id, source_file
)

select * from per_file
where quarantined_share > {{ max_share }}

{% endtest %}
