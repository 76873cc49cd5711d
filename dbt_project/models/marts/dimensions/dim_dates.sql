-- The date dimension: one row per calendar day from the first to the last day with
-- any activity (ad report days, people created, deals created or closed), widened
-- to var('dim_dates_first_date') / var('dim_dates_last_date') when set.
-- ISO 8601 weeks start on Monday; a week belongs to the ISO year of its Thursday,
-- so 2024-12-30 is 2025-W01 and 2027-01-01 is 2026-W53. The fiscal year starts in
-- month var('fiscal_year_start_month') and is named after the calendar year in which
-- it ends (start month 4: 2026-04-01 .. 2027-03-31 is fiscal year 2027).
{%- set fiscal_year_start_month = var('fiscal_year_start_month', 1) | int %}
{%- if fiscal_year_start_month < 1 or fiscal_year_start_month > 12 %}
    {{ exceptions.raise_compiler_error(
        "var fiscal_year_start_month must be 1..12, got " ~ fiscal_year_start_month
    ) }}
{%- endif %}
{%- set configured_first_date = var('dim_dates_first_date', none) %}
{%- set configured_last_date = var('dim_dates_last_date', none) %}
with

ad_reports as (

    select * from {{ ref('int_ad_reports_unioned') }}

),

deals as (

    select * from {{ ref('int_deals_converted_to_reporting_currency') }}

),

people as (

    select * from {{ ref('int_contacts_mapped_to_regions') }}

),

activity_days as (

    select report_date as activity_date from ad_reports
    union all
    select closed_date as activity_date from deals
    where is_closed
    union all
    select
        {{ local_date('created_at', var('reporting_timezone')) }}
            as activity_date
    from deals
    union all
    select
        {{ local_date('created_at', var('reporting_timezone')) }}
            as activity_date
    from people

),

activity_bounds as (

    select
        min(activity_date) as first_date,
        max(activity_date) as last_date

    from activity_days

),

bounds as (

    -- least() and greatest() skip nulls: a bound that is not configured, or no
    -- activity at all, leaves the other one.
    select
        least(
            activity_bounds.first_date,
            cast({{ "'" ~ configured_first_date ~ "'" if configured_first_date
                else 'null' }} as date)
        ) as first_date,
        greatest(
            activity_bounds.last_date,
            cast({{ "'" ~ configured_last_date ~ "'" if configured_last_date
                else 'null' }} as date)
        ) as last_date

    from activity_bounds

),

calendar_days as (

    {{ day_series('bounds', 'first_date', 'last_date', 'date_day') }}

),

weeks as (

    select
        date_day,
        cast({{ dbt.date_trunc('week', 'date_day') }} as date) as week_start,
        cast({{ dbt.date_trunc('month', 'date_day') }} as date) as month_start,
        cast({{ dbt.date_trunc('quarter', 'date_day') }} as date) as quarter_start,
        cast(extract(year from date_day) as integer) as calendar_year,
        cast(extract(quarter from date_day) as integer) as calendar_quarter,
        cast(extract(month from date_day) as integer) as month_of_year,
        cast(extract(day from date_day) as integer) as day_of_month,
        cast(extract(doy from date_day) as integer) as day_of_year

    from calendar_days

),

iso_weeks as (

    select
        *,
        -- the Thursday of the ISO week decides its year and number
        cast({{ dbt.dateadd('day', 3, 'week_start') }} as date) as week_thursday,
        cast({{ dbt.dateadd('day', 6, 'week_start') }} as date) as week_end,
        cast({{ dbt.datediff('week_start', 'date_day', 'day') }} as integer) + 1
            as day_of_week

    from weeks

),

fiscal as (

    select
        *,
        cast(extract(year from week_thursday) as integer) as iso_year,
        cast(floor((extract(doy from week_thursday) - 1) / 7) as integer) + 1
            as iso_week,
        mod(month_of_year - {{ fiscal_year_start_month }} + 12, 12)
            as fiscal_month_index

    from iso_weeks

),

final as (

    select
        date_day,
        calendar_year,
        calendar_quarter,
        month_of_year,
        day_of_month,
        day_of_year,
        iso_year,
        iso_week,
        {{ dbt.concat([
            dbt.cast('iso_year', dbt.type_string()),
            "'-W'",
            "lpad(" ~ dbt.cast('iso_week', dbt.type_string()) ~ ", 2, '0')",
        ]) }} as iso_year_week,
        day_of_week,
        cast(
            calendar_year
            + case
                when
                    {{ fiscal_year_start_month }} > 1
                    and month_of_year >= {{ fiscal_year_start_month }}
                    then 1
                else 0
            end
            as integer
        ) as fiscal_year,
        cast(floor(fiscal_month_index / 3) as integer) + 1 as fiscal_quarter,
        cast(fiscal_month_index as integer) + 1 as fiscal_month,
        day_of_week >= 6 as is_weekend,
        week_start,
        week_end,
        month_start,
        quarter_start

    from fiscal

)

select * from final
