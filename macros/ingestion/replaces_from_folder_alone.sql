{#-
    Whether this build replaces the running model's table with what its folder holds now, rather than
    adding to it: a full refresh, or any build where the increments are rebuilt whole (Spark, where
    parquet tables cannot append in place: rebuilds_incrementals_whole). Rows that only the table still
    holds (a landing file or a scores file deleted since it was read) would be lost then, so the checks
    that stop such a build run (assert_full_refresh_keeps_landed_rows, assert_full_refresh_keeps_latest_scores).
-#}
{% macro replaces_from_folder_alone() %}
    {{ return(should_full_refresh() or rebuilds_incrementals_whole()) }}
{% endmacro %}

{#- That build, as the checks' messages name it: "<determiner> full refresh" ("a", "this"), or "this
    build" where every build replaces the table; `capital`: the first letter upper case. -#}
{% macro folder_rebuild_name(determiner='a', capital=false) %}
    {%- set name = determiner ~ ' full refresh' if should_full_refresh() else 'this build' -%}
    {{ return(name[0] | upper ~ name[1:] if capital else name) }}
{% endmacro %}

{#- Why that build replaces the table, after "rebuilt from the folder alone": nothing for a full
    refresh; on an engine that rebuilds the increments whole, that it does so at every build. -#}
{% macro folder_rebuild_reason() %}
    {{ return('' if should_full_refresh() else ' at every build on ' ~ target.type | capitalize
        ~ ' (its tables are rebuilt whole: they cannot append in place)') }}
{% endmacro %}

{#- The command that runs that build again. -#}
{% macro folder_rebuild_command() %}
    {{ return('dbt build --full-refresh' if should_full_refresh() else 'dbt build --target ' ~ target.name) }}
{% endmacro %}

{#- The end of each check that such a build would lose rows: with the var full_refresh_drops_deleted_files
    the build goes on and its log says what it drops (`accepted`, after the var's name); without it the
    build stops before anything is replaced (`refused`, which ends by saying how to accept the loss: the
    command that runs this build again with the var follows it). -#}
{% macro stop_rebuild_or_accept_loss(accepted, refused) %}
    {%- if var('full_refresh_drops_deleted_files') -%}
        {%- do exceptions.warn('WARNING: full_refresh_drops_deleted_files: ' ~ accepted) -%}
        {{ return('') }}
    {%- endif -%}
    {{ exceptions.raise_compiler_error(
        refused ~ folder_rebuild_command() ~ " --vars '{full_refresh_drops_deleted_files: true}'."
    ) }}
{% endmacro %}
