{#-
    The operating-regime key of a reading: its three settings rounded (var regime_setting_decimals),
    as select items `regime_op_setting_1, …`. C-MAPSS regimes are discrete flight conditions; the
    rounding absorbs the noise on the settings. One definition for the baselines and the readings
    joined to them, so the two can never round differently.
-#}
{% macro regime_key_columns() -%}
    {%- set decimals = var('regime_setting_decimals') -%}
    {%- for setting in cmapss_setting_columns() -%}
        round({{ setting }}, {{ decimals[loop.index0] }}) as regime_{{ setting }}{{ ",\n        " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
