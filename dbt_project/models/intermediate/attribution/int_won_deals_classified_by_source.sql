-- Every won deal (won, not deleted) with its region, close month, revenue in the
-- reporting currency and how marketing took part: marketing-sourced when one of its
-- marketing touches came at or before the deal's creation (sourcing channel: the
-- channel of its first touch), else sales-sourced (channel 'sales'); marketing-
-- influenced when it has any marketing touch up to its close.
with

deals as (

    select * from {{ ref('int_deals_converted_to_reporting_currency') }}

),

deal_touches as (

    select * from {{ ref('int_deal_touches_ranked') }}

),

won_deals as (

    select * from deals
    where
        is_won
        and not is_deleted
        and closed_at is not null

),

touch_summaries as (

    select
        crm_deal_key,
        count(*) as touch_count,
        max(case when is_before_deal_created then 1 else 0 end) = 1
            as has_touch_before_deal_created,
        max(case when touch_order = 1 then channel end) as first_touch_channel

    from deal_touches
    group by 1

),

classified as (

    select
        won_deals.crm_deal_key,
        won_deals.crm,
        won_deals.deal_id,
        won_deals.region,
        won_deals.reporting_currency_code,
        won_deals.amount_in_reporting_currency as revenue,
        won_deals.amount_in_reporting_currency is null as is_unconverted,
        coalesce(touch_summaries.touch_count, 0) as touch_count,
        coalesce(
            touch_summaries.has_touch_before_deal_created, false
        ) as is_marketing_sourced,
        coalesce(touch_summaries.touch_count, 0) > 0 as is_marketing_influenced,
        case
            when touch_summaries.has_touch_before_deal_created
                then touch_summaries.first_touch_channel
            else 'sales'
        end as sourcing_channel,
        won_deals.closed_date,
        cast(
            {{ dbt.date_trunc('month', 'won_deals.closed_date') }} as date
        ) as month_start,
        won_deals.created_at,
        won_deals.closed_at

    from won_deals
    left join touch_summaries
        on won_deals.crm_deal_key = touch_summaries.crm_deal_key

)

select * from classified
