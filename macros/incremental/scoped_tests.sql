{#-
    Data tests of the per-unit models check the units the build rewrote, not the whole history:
    a test's `where:` (or equal_row_count's `compare_where:`) may hold the placeholder
    `__units_rebuilt_by_<model>__`, which becomes `unit_id in (...)`: the units
    int_unit_change_log logged since <model>'s watermark before this build
    (silver.unit_change_watermarks.previous_processed_through). Rows of other units were not
    written by this build and passed these tests when they were. After a full refresh (or on the
    first build) the placeholder is `true`: every row is checked; with nothing rewritten it is
    `false`: nothing to check. Views are scoped by the model that materialises them
    (fct_unit_cycle_features), so a test never computes the whole history's windows.
    One macro with no calls into other project macros: a test's context only knows the macros
    it depends on directly.
-#}

{%- macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ expand_unit_scope(where) }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro -%}

{#- `where` with every `__units_rebuilt_by_<model>__` replaced by its predicate on unit_id. -#}
{% macro expand_unit_scope(where) %}
    {#- a list as accumulator: a Jinja `set` inside a loop does not outlive the loop -#}
    {%- set expanded = [where] -%}
    {%- for model_name in modules.re.findall('__units_rebuilt_by_([a-z0-9_]+?)__', where) | unique -%}
        {%- set predicate = ['true'] -%}
        {%- if execute -%}
            {%- set previous = run_query(
                "select previous_processed_through from silver.unit_change_watermarks where model_name = '"
                ~ model_name ~ "' and previous_processed_through > cast('-infinity' as timestamp)"
            ) -%}
            {%- if previous.rows | length > 0 -%}
                {%- set units = run_query(
                    "select distinct unit_id from silver.int_unit_change_log where unit_id is not null "
                    ~ "and changed_at > cast('" ~ previous.rows[0][0] ~ "' as timestamp) order by unit_id"
                ).columns[0].values() -%}
                {%- set quoted = [] -%}
                {%- for unit in units -%}
                    {%- do quoted.append("'" ~ unit | replace("'", "''") ~ "'") -%}
                {%- endfor -%}
                {%- do predicate.append('unit_id in (' ~ quoted | join(', ') ~ ')' if quoted else 'false') -%}
            {%- endif -%}
        {%- endif -%}
        {%- do expanded.append(expanded[-1].replace('__units_rebuilt_by_' ~ model_name ~ '__', predicate[-1])) -%}
    {%- endfor -%}
    {{ return(expanded[-1]) }}
{% endmacro %}
