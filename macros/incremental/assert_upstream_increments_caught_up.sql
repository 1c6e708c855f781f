{#-
    Pre-hook of every model (dbt_project.yml), acting on those that keep a watermark: stop the build
    before the model takes its increment if an incremental model upstream of it has an increment of
    its own pending, which a build of part of the project (`--select`, `--exclude`) can leave behind.
    The model would rebuild its changed units (or files) from that model's stale rows and advance its
    watermark past them, and when a later build brings the upstream model up to date, nothing would
    name those units again: they would stay stale for good, with every build green. For example
    `dbt build -s +int_unit_reading_changes`, then `dbt build -s int_unit_change_log+` (which leaves
    out int_sensor_readings_deduplicated): the feature table would rewrite the units with late cycles
    from the readings without them. Stopping keeps the last good state; the message names the
    upstream models, and a build that includes them (a plain `dbt build`) takes in everything.
    Checked are the tables a model below reads rows from, whose increment, once taken, names no unit
    to the models below it again. What "pending" means for them:
      - bronze's clean tables (the staging models, bronze.ingestion_watermarks): bronze holds lines
        ingested after the model's watermark (it advances to the newest `ingested_at` it has processed);
      - the per-unit tables (pending_unit_change_sources, below; silver.unit_change_watermarks): their
        change source holds units logged after the model's watermark, for the causes the model takes.
    Not checked: the models whose increment, when a later build takes it, is itself a newer change the
    models below take in then (int_unit_reading_changes, the regime baselines' refits, the context
    digests, the change log), and mart_data_quality.
    On Spark every build rebuilds the incremental models whole (there is no watermark): nothing to
    check, and no statement rendered.
-#}
{% macro assert_upstream_increments_caught_up() %}
    {{ return(adapter.dispatch('assert_upstream_increments_caught_up', 'pdm_lakehouse')()) }}
{% endmacro %}

{% macro spark__assert_upstream_increments_caught_up() %}{% endmacro %}

{% macro default__assert_upstream_increments_caught_up() %}
    {%- if not execute or not is_watermarked_model(model) -%}{{ return('') }}{%- endif -%}
    {%- set sources = pending_unit_change_sources() -%}
    {%- set checks = [] -%}
    {%- for node in upstream_model_nodes(model) if node.alias != this.identifier -%}
        {%- set hooks = hook_sql(node) -%}
        {%- if 'advance_ingestion_watermark' in hooks and node.original_file_path.startswith('models/staging/') -%}
            {%- do checks.append(
                "select '" ~ node.alias ~ "' as model_name from (select 1) as one where coalesce(("
                ~ "select max(processed_through) from bronze.ingestion_watermarks where model_name = '"
                ~ node.alias ~ "'), " ~ timestamp_before_all() ~ ") < (select max(ingested_at) from "
                ~ model_relation_name('base_cmapss__landed_lines') ~ ")"
            ) -%}
        {%- elif 'advance_unit_change_watermark' in hooks and node.alias in sources -%}
            {%- set source_model, causes = sources[node.alias] -%}
            {%- do checks.append(
                "select '" ~ node.alias ~ "' as model_name from (select 1) as one where exists (select 1 from "
                ~ model_relation_name(source_model) ~ " as changes where changes.unit_id is not null and (" ~ causes
                ~ ") and changes.changed_at > coalesce((select max(processed_through) from "
                ~ "silver.unit_change_watermarks where model_name = '" ~ node.alias ~ "'), "
                ~ timestamp_before_all() ~ "))"
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {#- nothing to compare with before the first build has made the watermark tables -#}
    {%- if checks | length == 0
        or adapter.get_relation(database=target.database, schema='bronze', identifier='ingestion_watermarks') is none
        or adapter.get_relation(database=target.database, schema='silver', identifier='unit_change_watermarks') is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set message -%}
        '{{ this.identifier }} would take its increment from stale rows: upstream of it, '
        || string_agg(model_name, ', ' order by model_name)
        || ' not yet built with what a build of part of the project (--select, --exclude) took in; build '
        || 'again with them selected (a plain `dbt build` takes in everything)'
    {%- endset %}
    select {{ raise_sql_error(message) }}
    from (
        {{ checks | join('\n        union all\n        ') }}
    ) as pending
    having count(*) > 0
{% endmacro %}

{#- A model's relation, by name, from the graph (a ref() in a hook would be a dependency dbt does not know). -#}
{% macro model_relation_name(name) %}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name == name -%}
        {{ return(node.relation_name) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error('no model named ' ~ name) }}
{% endmacro %}

{#- Whether a model keeps a watermark (its post-hook advances one). -#}
{% macro is_watermarked_model(node) %}
    {%- set hooks = hook_sql(node) -%}
    {{ return('advance_ingestion_watermark' in hooks or 'advance_unit_change_watermark' in hooks) }}
{% endmacro %}

{#- A node's post-hooks, as one text. -#}
{% macro hook_sql(node) %}
    {%- set texts = [] -%}
    {%- for hook in node.config.get('post-hook', []) or [] -%}
        {%- do texts.append(hook.sql if hook.sql is defined else hook | string) -%}
    {%- endfor -%}
    {{ return(texts | join(' ')) }}
{% endmacro %}

{#- The models (and snapshots) upstream of `node`, each once. -#}
{% macro upstream_model_nodes(node) %}
    {%- set seen = [] -%}
    {%- set found = [] -%}
    {%- set frontier = [node.unique_id] -%}
    {#- a breadth-first walk, one level per pass (Jinja has no while loop; the DAG is far shallower) -#}
    {%- for _ in range(100) if frontier | length > 0 -%}
        {%- set next_level = [] -%}
        {%- for unique_id in frontier -%}
            {%- for parent in graph.nodes[unique_id].depends_on.nodes
                if parent in graph.nodes and parent not in seen
                and graph.nodes[parent].resource_type in ('model', 'snapshot') -%}
                {%- do seen.append(parent) -%}
                {%- do found.append(graph.nodes[parent]) -%}
                {%- do next_level.append(parent) -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- do frontier.clear() -%}
        {%- do frontier.extend(next_level) -%}
    {%- endfor -%}
    {{ return(found) }}
{% endmacro %}

{#- The per-unit models whose increment comes from a change source, the source and the causes they
    take (as their pre-hooks read it: delete_changed_units, units_changed_since_watermark). -#}
{% macro pending_unit_change_sources() %}
    {{ return({
        'int_sensor_readings_deduplicated': ('int_unit_reading_changes', 'true'),
        'fct_unit_cycle_features': ('int_unit_change_log', var('feature_change_causes')),
        'dim_units': ('int_unit_change_log', var('unit_change_causes')),
        'dim_unit_registry_history': ('int_unit_change_log', 'has_registry_change'),
        'mart_fleet_health': ('int_unit_change_log', 'true'),
    }) }}
{% endmacro %}
