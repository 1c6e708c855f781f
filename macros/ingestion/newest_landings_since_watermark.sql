{#-
    The increment of a staging model reading bronze: rows of `relation` ingested since this
    model's watermark, and of each source file only its newest version (a file corrected twice
    between builds counts once, as its latest content).
-#}
{% macro newest_landings_since_watermark(relation, where='true') -%}
    select *
    from (
        select
            *,
            max(ingested_at) over (partition by source_file) as newest_ingested_at
        from {{ relation }}
        where ingested_at > {{ incremental_watermark() }} and ({{ where }})
    ) as increment
    where ingested_at = newest_ingested_at
{%- endmacro %}

{#-
    Pre-hook of the staging increments: a file landed again with new content replaces all its
    earlier rows, even when its new version has no row for this model (all of it quarantined,
    say). Rows of files re-landed since the watermark are removed before the increment lands.
-#}
{% macro delete_rows_of_relanded_files() -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where source_file in (
        select landed.source_file
        from {{ ref('base_cmapss__landed_lines') }} as landed
        where landed.ingested_at > {{ incremental_watermark() }}
            and landed.duplicate_of_source_file is null
    )
    {%- endif -%}
{%- endmacro %}
