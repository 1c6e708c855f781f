{#-
    The newest `column` value an incremental model already holds (minus infinity on a full
    build): `where ingested_at > {{ incremental_watermark() }}` takes just what is new.
-#}
{% macro incremental_watermark(column='ingested_at') -%}
    {%- if is_incremental() -%}
        (select coalesce(max({{ column }}), cast('-infinity' as timestamp)) from {{ this }})
    {%- else -%}
        cast('-infinity' as timestamp)
    {%- endif -%}
{%- endmacro %}
