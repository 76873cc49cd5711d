-- Money that could not be converted to the reporting currency: the currency
-- is a valid ISO 4217 code (validated on load) but no rate of it, or of the
-- reporting currency, is at most var('fx_max_stale_days') old on that day.
-- Supply a rate through the FX override file to convert it at the next run.
with

ad_reports as (

    select * from {{ ref('int_ad_reports_converted_to_reporting_currency') }}

),

deals as (

    select * from {{ ref('int_deals_converted_to_reporting_currency') }}

),

unconverted_spend as (

    select
        ad_platform as source_name,
        'ad_spend' as amount_kind,
        currency_code,
        region,
        report_date as amount_date,
        spend_in_account_currency as amount

    from ad_reports
    where not is_fx_converted and spend_in_account_currency is not null

),

unconverted_revenue as (

    select
        crm as source_name,
        'won_deal_amount' as amount_kind,
        currency_code,
        region,
        closed_date as amount_date,
        amount_in_deal_currency as amount

    from deals
    where
        is_won
        and not is_deleted
        and not is_fx_converted
        and amount_in_deal_currency is not null

),

unioned as (

    select * from unconverted_spend
    union all
    select * from unconverted_revenue

),

summarised as (

    select
        source_name,
        amount_kind,
        currency_code,
        region,
        count(*) as row_count,
        sum(amount) as amount_in_original_currency,
        min(amount_date) as first_date,
        max(amount_date) as last_date

    from unioned
    group by 1, 2, 3, 4

),

final as (

    select
        {{ generate_surrogate_key([
            'source_name', 'amount_kind', 'currency_code', 'region',
        ]) }} as unconverted_amount_id,
        source_name,
        amount_kind,
        currency_code,
        region,
        '{{ var("reporting_currency") }}' as reporting_currency_code,
        cast(row_count as bigint) as row_count,
        amount_in_original_currency,
        first_date,
        last_date

    from summarised

)

select * from final
