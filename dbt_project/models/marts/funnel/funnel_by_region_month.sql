-- The funnel per region and month: impressions -> clicks -> leads (CRM people
-- created) -> opportunities (deals created) -> won, with its conversion rates,
-- win rate, average deal size, sales-cycle days, cost per lead and customer
-- acquisition cost. Every ratio is null when its denominator is 0. Each stage
-- counts what happened in the month: the rates compare stages of the same month,
-- not one cohort followed through the funnel.
with

funnel_counts as (

    select * from {{ ref('int_funnel_counts_aggregated_to_region_months') }}

),

final as (

    select
        region,
        month_start,
        '{{ var("reporting_currency") }}' as reporting_currency_code,
        spend,
        impressions,
        clicks,
        leads,
        opportunities,
        deals_closed,
        deals_won,
        revenue_won,
        new_customers,
        {{ divide_rounded('clicks', 'impressions', 4) }} as click_through_rate,
        {{ divide_rounded('leads', 'clicks', 4) }} as lead_per_click_rate,
        {{ divide_rounded('opportunities', 'leads', 4) }}
            as lead_to_opportunity_rate,
        {{ divide_rounded('deals_won', 'deals_closed', 4) }} as win_rate,
        {{ divide_rounded('revenue_won', 'converted_deals_won', 2) }}
            as average_deal_size,
        {{ divide_rounded(
            'sales_cycle_seconds', 'sales_cycle_deals * 86400', 2
        ) }} as average_sales_cycle_days,
        {{ divide_rounded('spend', 'leads', 2) }} as cost_per_lead,
        {{ divide_rounded('spend', 'new_customers', 2) }}
            as customer_acquisition_cost,
        unconverted_spend_rows,
        unconverted_deals

    from funnel_counts

)

select * from final
