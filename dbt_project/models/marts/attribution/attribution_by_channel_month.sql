-- Attribution credits per region, close month, model and channel: the revenue each
-- channel earns under each model, and the deals it earns (sum of credit weights).
with

credits as (

    select * from {{ ref('attribution_credits') }}

),

aggregated as (

    select
        region,
        month_start,
        attribution_model,
        channel,
        cast(
            coalesce(sum(credited_revenue), 0) as decimal(18, 2)
        ) as credited_revenue,
        cast(sum(credit_weight) as double) as credited_deals,
        reporting_currency_code

    from credits
    group by region, month_start, attribution_model, channel, reporting_currency_code

)

select * from aggregated
