{#-
    Pre-hook of int_unit_risk_scores_latest: a full refresh rebuilds each unit's latest score from the
    scores files in the predictions folder alone, so a unit whose latest score came from a file deleted
    since (kept, with the warn test warn_latest_scores_still_in_predictions_folder, by every incremental
    build) would fall back to an older score, or to none, in silver and gold, without a word. Before the
    table is replaced, this compares the scores it holds with the folder's and stops the build, naming
    the units (the first 20, and how many in all), each held score's time and cycle, and the newest score
    the folder still has for it; the table is not replaced and the marts on it are skipped, so they keep
    their scores. Put the scores files back and run the full refresh again, or accept the fallback with
    the var full_refresh_drops_deleted_files (true: the full refresh proceeds and the log names the units).
    A unit erased with `make erase` has left the table: nothing to keep. Where the increments are rebuilt
    whole (Spark: the table is rebuilt from the folder at every build, replaces_from_folder_alone), this
    runs at every build, and a deleted scores file stops it. The table compared is the one being
    replaced (table_being_replaced: on Spark, where a build that stopped while writing it again kept it
    aside, that one). Nothing to check on a first build (no table yet), nor in an incremental build on
    DuckDB (it only takes newer scores in).
-#}
{% macro assert_full_refresh_keeps_latest_scores() %}
    {%- set replaced = table_being_replaced() if execute and replaces_from_folder_alone() else none -%}
    {%- if replaced is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set lost_query -%}
        with in_folder as (
            select unit_id, scored_at
            from {{ ref('stg_predictions__unit_risk_scores') }}
        )

        select
            held.unit_id,
            cast(held.scored_at as string) as scored_at,
            held.scored_cycle,
            cast(max(in_folder.scored_at) as string) as newest_score_left_at
        from {{ replaced }} as held
        left join in_folder
            on held.unit_id = in_folder.unit_id
        group by held.unit_id, held.scored_at, held.scored_cycle
        having not coalesce(bool_or(in_folder.scored_at = held.scored_at), false)
        order by held.unit_id
    {%- endset -%}
    {%- set lost = run_query(lost_query).rows -%}
    {%- if lost | length == 0 -%}
        {{ return('') }}
    {%- endif -%}
    {%- set units = [] -%}
    {%- for row in lost[:20] -%}
        {%- do units.append("  " ~ row[0] ~ ": scored at " ~ row[1] ~ " (cycle " ~ row[2] ~ "); "
            ~ ("the newest score left is from " ~ row[3] if row[3] is not none else "no score left")) -%}
    {%- endfor -%}
    {%- if lost | length > 20 -%}
        {%- do units.append("  ... and " ~ (lost | length - 20) ~ " more units") -%}
    {%- endif -%}
    {%- set folder = var('predictions_path') -%}
    {{ return(stop_rebuild_or_accept_loss(
        folder_rebuild_name('this') ~ ' takes ' ~ lost | length ~ ' units back to an older score, or none: the '
            ~ 'scoring runs of their latest scores are no longer in ' ~ folder ~ ':\n' ~ units | join('\n'),
        folder_rebuild_name(capital=true) ~ ' would take ' ~ lost | length ~ ' units back to an older score, or '
            ~ 'none: int_unit_risk_scores_latest is rebuilt from the scores files in ' ~ folder ~ ' alone'
            ~ folder_rebuild_reason() ~ ', and the files their latest scores came from are no longer there '
            ~ '(deleted, or unreadable now):\n' ~ units | join('\n') ~ '\n'
            ~ 'Nothing was replaced: silver and gold keep these scores. ' ~ replaced_table_kept_aside(replaced)
            ~ 'Put the scores files back and run the '
            ~ 'build again, or accept the fallback: '
    )) }}
{% endmacro %}
