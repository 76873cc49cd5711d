{#
    Post-hooks of the day-grained incremental marts (delete+insert by day). A
    delete+insert build replaces only the days it inserts rows for; a day that must
    disappear altogether (no source row left, or outside the activity bounds) would
    stay. These deletes remove such days; on a full refresh they delete nothing.
#}

{#- Delete the days of `target` that `source` no longer has. -#}
{% macro delete_days_missing_from(target, source, day_column='report_date') -%}
    delete from {{ target }}
    where {{ day_column }} not in (
        select distinct {{ day_column }}
        from {{ source }}
        where {{ day_column }} is not null
    )
{%- endmacro %}

{#-
    Delete the days of a zero-filled calendar mart that lie before its first or after
    its last day with activity (a row whose `activity_column` is not null), and every
    day when no day has any: the calendar of a full refresh spans exactly those days.
-#}
{% macro delete_days_outside_activity(target, activity_column, day_column='report_date') -%}
    delete from {{ target }}
    where
        not exists (
            select 1 from {{ target }} where {{ activity_column }} is not null
        )
        or {{ day_column }} < (
            select min({{ day_column }}) from {{ target }}
            where {{ activity_column }} is not null
        )
        or {{ day_column }} > (
            select max({{ day_column }}) from {{ target }}
            where {{ activity_column }} is not null
        )
{%- endmacro %}
