{#
    Fails on every row where the boolean SQL `expression` is false (null passes,
    as in dbt_utils). With column_name, the expression is prefixed by the column.
#}
{% test expression_is_true(model, expression, column_name=none) %}

select *
from {{ model }}
where not ({% if column_name %}{{ column_name }} {% endif %}{{ expression }})

{% endtest %}
