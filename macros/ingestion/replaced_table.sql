{#-
    The table a rebuild from the folder replaces (a full refresh; every build on Spark:
    replaces_from_folder_alone), kept whole until its successor is written. Used by the two models
    rebuilt from a folder, bronze (base_cmapss__landed_lines) and int_unit_risk_scores_latest: their
    checks compare this table with the folder, and bronze's rebuild reads when it first took in each
    content from it (replaced_bronze_contents).
    - DuckDB replaces a table in one statement, in the build's transaction: the table stays in place,
      and a build that fails leaves it as it was.
    - Spark: dbt-spark drops a parquet table before it writes the new one. A build that fails or is
      killed in between would leave no table, and the next build would read the folder as a first
      build does: no check, no content times kept, the rows of files deleted since silently gone. So
      the pre-hook move_replaced_table_aside (after the checks) renames the table to `<name>__replaced`
      (the catalogue entry and the folder's name: no data copied), bronze's rebuild reads its content
      times there, and the post-hook drop_replaced_table drops it once the new table is written. A
      build stopped in between leaves it, and the next build's checks and rebuild read it as the
      table being replaced. A build killed once Spark has begun writing the new table's files leaves
      them in its folder: the next build stops with Spark's LOCATION_ALREADY_EXISTS, naming the folder
      (delete it; the rows are in `<name>__replaced`).
-#}

{#- The table being replaced, as the checks and the compile read it before the pre-hooks move anything:
    None on a first build (no table yet). -#}
{% macro table_being_replaced() %}
    {{ return(adapter.dispatch('table_being_replaced', 'pdm_lakehouse')()) }}
{% endmacro %}

{% macro default__table_being_replaced() %}
    {{ return(load_relation(this)) }}
{% endmacro %}

{% macro spark__table_being_replaced() %}
    {%- set current = load_relation(this) -%}
    {{ return(current if current is not none else load_relation(replaced_table_relation())) }}
{% endmacro %}

{#- Where the model's own SQL, which runs after the pre-hooks, reads the table it replaces: the table
    itself on DuckDB, `<name>__replaced` on Spark. -#}
{% macro replaced_table_read_as() %}
    {{ return(adapter.dispatch('replaced_table_read_as', 'pdm_lakehouse')()) }}
{% endmacro %}

{% macro default__replaced_table_read_as() %}
    {{ return(this) }}
{% endmacro %}

{% macro spark__replaced_table_read_as() %}
    {{ return(replaced_table_relation()) }}
{% endmacro %}

{#- Spark: the name the table is kept under while its successor is written. -#}
{% macro replaced_table_relation() %}
    {{ return(api.Relation.create(
        database=this.database, schema=this.schema, identifier=this.identifier ~ '__replaced', type='table'
    )) }}
{% endmacro %}

{#- Pre-hook, after the checks: on Spark, in a build that replaces the table, the table is renamed to
    `<name>__replaced` (one left by a build that stopped is dropped first: the table in place is newer);
    with no table in place, one left by a build that stopped is kept. Nothing on DuckDB. -#}
{% macro move_replaced_table_aside() %}
    {{ return(adapter.dispatch('move_replaced_table_aside', 'pdm_lakehouse')()) }}
{% endmacro %}

{% macro default__move_replaced_table_aside() %}{{ return('') }}{% endmacro %}

{% macro spark__move_replaced_table_aside() %}
    {%- if execute and replaces_from_folder_alone() and load_relation(this) is not none -%}
        {%- set kept = replaced_table_relation() -%}
        {%- do run_query('drop table if exists ' ~ kept) -%}
        {%- do run_query('alter table ' ~ this ~ ' rename to ' ~ kept) -%}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}

{#- Post-hook: on Spark, the table kept aside is dropped once its successor is written. Nothing on DuckDB. -#}
{% macro drop_replaced_table() %}
    {{ return(adapter.dispatch('drop_replaced_table', 'pdm_lakehouse')()) }}
{% endmacro %}

{% macro default__drop_replaced_table() %}{{ return('') }}{% endmacro %}

{% macro spark__drop_replaced_table() %}
    {%- if execute -%}
        {%- do run_query('drop table if exists ' ~ replaced_table_relation()) -%}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}

{#- For the checks' messages: where the table is kept (`replaced`: table_being_replaced) when a build that
    stopped left it aside, as a sentence; '' when it is in its place. -#}
{% macro replaced_table_kept_aside(replaced) %}
    {{ return('' if replaced.identifier == this.identifier else 'The table ' ~ this ~ ' is kept as ' ~ replaced
        ~ ', where a build that stopped while writing it again left it; the next build that passes writes it. ') }}
{% endmacro %}
