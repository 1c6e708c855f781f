{#- Files (rows of a data-quality model) whose quarantined share of lines exceeds max_share.
    Applied twice in mart_data_quality.yml: as a warning past one limit, an error past another. -#}
{% test quarantined_share_at_most(model, max_share) %}

with per_file as (
    select
        file_version_id,
        source_file,
        sum(case when is_quarantined then line_count else 0 end) / cast(sum(line_count) as double)
            as quarantined_share
    from {{ model }}
    group by file_version_id, source_file
)

select * from per_file
where quarantined_share > {{ max_share }}

{% endtest %}
