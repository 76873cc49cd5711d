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
        -- Rounded: a sum of doubles depends on the order rows arrive in (an incremental
        -- build and a full refresh must give the same table).
        cast(round(sum(credit_weight), 9) as double) as credited_deals,
        reporting_currency_code

    from credits
    group by region, month_start, attribution_model, channel, reporting_currency_code

)

select * from aggregated
