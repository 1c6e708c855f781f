{#-
    The sensor lines bronze ingested that its consumers (stg_cmapss__sensor_readings and
    stg_cmapss__quarantined_lines) have not processed yet, parsed once (parse_sensor_lines:
    tokens, types and the rule a bad line breaks) and stored for both: each raw line is parsed
    once, not once per consumer. A table of the pending batch only: empty after a build with
    nothing new, every line on a first build or a full refresh. The post-hook records where the
    batch starts, so a consumer it does not cover parses for itself.
-#}
{{
    config(
        materialized='table',
        post_hook="{{ record_parse_batch_start() }}",
    )
}}

{{ parse_sensor_lines(parse_batch_condition()) }}
