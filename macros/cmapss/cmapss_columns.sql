{#-
    The C-MAPSS line layout, in file order: unit, cycle, three operational settings, 21 sensors.
    Sensor column names follow seeds/sensors.csv (`<symbol>_<what it measures>`, lower case);
    the seed documents each one's unit of measure. One definition, used by the parser, the
    normalisation and the features.
-#}
{% macro cmapss_setting_columns() %}
    {{ return(['op_setting_1', 'op_setting_2', 'op_setting_3']) }}
{% endmacro %}

{% macro cmapss_sensor_columns() %}
    {{ return([
        't2_fan_inlet_temp',
        't24_lpc_outlet_temp',
        't30_hpc_outlet_temp',
        't50_lpt_outlet_temp',
        'p2_fan_inlet_pressure',
        'p15_bypass_duct_pressure',
        'p30_hpc_outlet_pressure',
        'nf_fan_speed',
        'nc_core_speed',
        'epr_engine_pressure_ratio',
        'ps30_hpc_static_pressure',
        'phi_fuel_flow_ratio',
        'nrf_corrected_fan_speed',
        'nrc_corrected_core_speed',
        'bpr_bypass_ratio',
        'farb_burner_fuel_air_ratio',
        'htbleed_bleed_enthalpy',
        'nf_dmd_demanded_fan_speed',
        'pcnfr_dmd_demanded_corrected_fan_speed',
        'w31_hpt_coolant_bleed',
        'w32_lpt_coolant_bleed',
    ]) }}
{% endmacro %}

{% macro cmapss_column_count() %}
    {{ return(2 + cmapss_setting_columns() | length + cmapss_sensor_columns() | length) }}
{% endmacro %}

{#- train_FD001.txt, test_FD001.txt, RUL_FD001.txt; an optional suffix after the dataset,
    starting with '_', '-' or a space (train_FD001_2026-11-22.txt, train_FD001 (resent).txt),
    names a later delivery of the same dataset. -#}
{% macro cmapss_file_name_regex() -%}
    ^(train|test|RUL)_(FD[0-9]{3})([_ -][^/\\]*)?\.txt$
{%- endmacro %}

{#- What the name of the file at `path` (a SQL expression) says its lines are: 'train|FD001',
    'test|FD001', 'RUL|FD001'; for a name that is none of those, the path itself. Two files with
    the same bytes hold the same data only when this is the same (an unrecognised file: only
    itself, touched). -#}
{% macro landed_file_class(path) -%}
    coalesce(nullif(concat_ws(
        '|',
        regexp_extract(regexp_extract({{ path }}, '[^/\\]+$', 0), '{{ cmapss_file_name_regex() }}', 1),
        regexp_extract(regexp_extract({{ path }}, '[^/\\]+$', 0), '{{ cmapss_file_name_regex() }}', 2)
    ), '|'), {{ path }})
{%- endmacro %}
