{#-
    The rolling features built for each wear-sensitive sensor (and the degradation index), as
    (column name, statistic, source column, window length) in the order they appear in the
    tables: <feature>_<mean|std|slope|drift_mean>_w<N>. drift_mean is the rolling mean minus the
    unit's own healthy level (its mean over its first var unit_baseline_cycles cycles), so an
    engine's offset from the fleet does not read as wear. One definition for the model that
    computes them and the marts that carry them.
-#}
{% macro rolling_feature_columns() %}
    {%- set windows = var('feature_windows') %}
    {%- set features = var('degradation_sensors').keys() | list + ['degradation_index'] %}
    {%- set columns = [] %}
    {%- for feature in features %}
        {%- set source_column = feature if feature == 'degradation_index' else feature ~ '_z' %}
        {%- for statistic in ['mean', 'std', 'slope', 'drift_mean'] %}
            {%- for n in windows.get(statistic, []) %}
                {%- do columns.append({
                    'name': feature ~ '_' ~ statistic ~ '_w' ~ n,
                    'statistic': statistic,
                    'source_column': source_column,
                    'window': n,
                }) %}
            {%- endfor %}
        {%- endfor %}
    {%- endfor %}
    {{ return(columns) }}
{% endmacro %}
