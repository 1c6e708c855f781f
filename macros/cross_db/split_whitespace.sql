{#- A line's whitespace-separated tokens, as an array (leading/trailing whitespace ignored). -#}
{% macro split_whitespace(text) %}
    {{ return(adapter.dispatch('split_whitespace', 'pdm_lakehouse')(text)) }}
{% endmacro %}

{% macro default__split_whitespace(text) -%}
    case
        when regexp_replace({{ text }}, '\s+', '') = '' then array()
        else split(regexp_replace({{ text }}, '^\s+|\s+$', ''), '\\s+')
    end
{%- endmacro %}

{% macro duckdb__split_whitespace(text) -%}
    case
        when regexp_replace({{ text }}, '\s+', '', 'g') = '' then []
        else regexp_split_to_array(regexp_replace({{ text }}, '^\s+|\s+$', '', 'g'), '\s+')
    end
{%- endmacro %}

{#- Spark: the default's regular expressions as written for Spark's raw string literals
    (profiles.yml sets spark.sql.parser.escapedStringLiterals, so a backslash reaches the regex as is).
    Whitespace is DuckDB's `\s` (RE2: space, tab, LF, CR, form feed), spelled out: Java's `\s` also
    matches a vertical tab, which would split a line DuckDB reads as one token (or blank one it does not). -#}
{% macro spark__split_whitespace(text) -%}
    case
        when regexp_replace({{ text }}, '[ \t\n\r\f]+', '') = '' then array()
        else split(regexp_replace({{ text }}, '^[ \t\n\r\f]+|[ \t\n\r\f]+$', ''), '[ \t\n\r\f]+', -1)
    end
{%- endmacro %}
