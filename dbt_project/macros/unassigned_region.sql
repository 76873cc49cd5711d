{# Region label for rows whose country is unknown or unmatched (SQL literal). #}
{% macro unassigned_region() -%}
    'Unassigned'
{%- endmacro %}
