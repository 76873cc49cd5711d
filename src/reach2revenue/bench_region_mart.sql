-- The bench's lower bound for region_daily_performance: the same numbers computed by one
-- hand-written DuckDB query straight from the raw tables (and the reference seeds),
-- without dbt, staging views or tests. reach2revenue.bench runs it on the built warehouse
-- and checks it equals the mart to the cent; the dbt build is then reported as a ratio
-- of this query's time.
-- Parameters ($reporting_currency, $reporting_timezone, $fx_max_stale_days) are bound by
-- the caller. Grain: region x day with any spend or won revenue.
with

fx_published as (
    select
        upper(trim(currency)) as currency_code,
        cast(time_period as date) as rate_date,
        cast(obs_value as decimal(38, 10)) as units_per_eur,
        2 as precedence
    from raw.ecb_fx_rates
    where upper(trim(currency_denom)) = 'EUR'
    union all
    select
        upper(trim(currency_code)),
        cast(trim(rate_date) as date),
        cast(trim(units_per_eur) as decimal(38, 10)),
        1
    from raw.ecb_fx_rate_overrides
),

fx_daily as (
    select fx.currency_code, fx.rate_date, fx.units_per_eur
    from fx_published as fx
    left join reference.euro_legacy_conversion_rates as legacy
        on fx.currency_code = legacy.currency_code
    where legacy.adopted_on is null or fx.rate_date < legacy.adopted_on
    qualify row_number() over (
        partition by fx.currency_code, fx.rate_date order by fx.precedence
    ) = 1
),

ad_rows as (
    select
        account_id,
        cast(date_start as date) as report_date,
        upper(trim(country)) as country_code,
        upper(trim(account_currency)) as currency_code,
        cast(spend as decimal(18, 6)) as spend,
        cast(impressions as bigint) as impressions,
        cast(reach as bigint) as reach,
        cast(clicks as bigint) as clicks,
        coalesce(list_sum(list_transform(
            list_filter(
                json_transform(actions, '[{"action_type": "VARCHAR", "value": "VARCHAR"}]'),
                lambda action: action.action_type = 'lead'
            ),
            lambda action: cast(action.value as bigint)
        )), 0) as leads
    from raw.meta_ads_insights
    union all
    select
        views.customer_id,
        cast(views.segments_date as date),
        upper(trim(targets."Country Code")),
        upper(trim(views.customer_currency_code)),
        cast(cast(views.metrics_cost_micros as decimal(24, 0)) * 0.000001 as decimal(18, 6)),
        cast(views.metrics_impressions as bigint),
        null,
        cast(views.metrics_clicks as bigint),
        coalesce(cast(round(cast(views.metrics_conversions as decimal(38, 12))) as bigint), 0)
    from raw.google_ads_geographic_view as views
    left join reference.google_ads_geo_targets as targets
        on views.geographic_view_country_criterion_id = targets."Criteria ID"
        and targets."Target Type" = 'Country'
    union all
    select
        analytics.account_id,
        cast(analytics.date_range_start as date),
        coalesce(geo.country_code, analytics.pivot_member_country_v2),
        upper(trim(accounts.currency)),
        cast(coalesce(analytics.cost_in_local_currency, '0') as decimal(18, 6)),
        cast(coalesce(analytics.impressions, '0') as bigint),
        null,
        cast(coalesce(analytics.clicks, '0') as bigint),
        cast(coalesce(analytics.one_click_leads, '0') as bigint)
    from raw.linkedin_ads_ad_analytics as analytics
    left join raw.linkedin_ads_ad_accounts as accounts
        on analytics.account_id = accounts.id
    left join reference.linkedin_geo_countries as geo
        on analytics.pivot_member_country_v2 = geo.geo_urn
),

country_regions as (
    select countries.country_code, coalesce(overrides.region, countries.region) as region
    from reference.countries as countries
    left join reference.country_region_overrides as overrides
        on countries.country_code = upper(trim(overrides.country_code))
),

country_aliases as (
    select alias, country_code
    from (
        select
            nullif(lower(trim(regexp_replace(country_alias, '\s+', ' ', 'g'))), '') as alias,
            upper(trim(country_code)) as country_code,
            1 as precedence
        from reference.country_alias_overrides
        union all
        select country_alias, country_code, 2 from reference.country_aliases
    )
    where alias is not null
    qualify row_number() over (partition by alias order by precedence) = 1
),

people as (
    select 'hubspot' as crm, id as contact_id, country as country_raw
    from raw.hubspot_contacts
    union all
    select 'salesforce', contacts.id, coalesce(
        nullif(upper(trim(accounts.billing_country_code)), ''),
        nullif(trim(accounts.billing_country), ''),
        contacts.mailing_country
    )
    from raw.salesforce_contacts as contacts
    left join raw.salesforce_accounts as accounts on contacts.account_id = accounts.id
),

people_regions as (
    select people.crm, people.contact_id, country_regions.region
    from people
    left join country_aliases
        on nullif(lower(trim(regexp_replace(people.country_raw, '\s+', ' ', 'g'))), '')
        = country_aliases.alias
    left join country_regions on country_aliases.country_code = country_regions.country_code
),

deal_links as (
    select 'hubspot' as crm, deal_id, contact_id from raw.hubspot_deal_contacts
    union
    select 'salesforce', opportunity_id, contact_id
    from raw.salesforce_opportunity_contact_roles
    where not coalesce(cast(is_deleted as boolean), false) and contact_id is not null
),

deal_regions as (
    select deal_links.crm, deal_links.deal_id, people_regions.region
    from deal_links
    inner join people_regions
        on deal_links.crm = people_regions.crm
        and deal_links.contact_id = people_regions.contact_id
    qualify row_number() over (
        partition by deal_links.crm, deal_links.deal_id
        order by length(deal_links.contact_id), deal_links.contact_id
    ) = 1
),

won_deals as (
    select
        'hubspot' as crm,
        id as deal_id,
        upper(trim(deal_currency_code)) as currency_code,
        cast(nullif(trim(amount), '') as decimal(18, 2)) as amount,
        cast(timezone($reporting_timezone, cast(closedate as timestamptz)) as date)
            as report_date
    from raw.hubspot_deals
    where dealstage = 'closedwon' and not coalesce(cast(archived as boolean), false)
    union all
    select
        'salesforce',
        id,
        upper(trim(currency_iso_code)),
        cast(nullif(trim(amount), '') as decimal(18, 2)),
        cast(timezone(
            $reporting_timezone, cast(close_date || ' 12:00:00+00' as timestamptz)
        ) as date)
    from raw.salesforce_opportunities
    where coalesce(cast(is_won as boolean), false)
        and not coalesce(cast(is_deleted as boolean), false)
),

-- Both money streams, each row with the rate of its day (the last one at most
-- $fx_max_stale_days old; fixed rates for the euro and former euro currencies).
money as (
    select
        coalesce(country_regions.region, 'Unassigned') as region,
        ad_rows.report_date, ad_rows.currency_code, ad_rows.spend as amount,
        ad_rows.impressions, ad_rows.reach, ad_rows.clicks, ad_rows.leads,
        0 as deals_won, true as is_spend
    from ad_rows
    left join country_regions on ad_rows.country_code = country_regions.country_code
    union all
    select
        coalesce(deal_regions.region, 'Unassigned'),
        won_deals.report_date, won_deals.currency_code, won_deals.amount,
        0, 0, 0, 0, 1, false
    from won_deals
    left join deal_regions
        on won_deals.crm = deal_regions.crm and won_deals.deal_id = deal_regions.deal_id
),

rated as (
    select
        money.*,
        case
            when money.currency_code = 'EUR' then 1
            when legacy_source.adopted_on <= money.report_date
                then cast(legacy_source.units_per_eur as decimal(38, 10))
            when money.report_date - source_rate.rate_date <= $fx_max_stale_days
                then source_rate.units_per_eur
        end as source_units,
        case
            when $reporting_currency = 'EUR' then 1
            when legacy_reporting.adopted_on <= money.report_date
                then cast(legacy_reporting.units_per_eur as decimal(38, 10))
            when money.report_date - reporting_rate.rate_date <= $fx_max_stale_days
                then reporting_rate.units_per_eur
        end as reporting_units
    from money
    asof left join fx_daily as source_rate
        on money.currency_code = source_rate.currency_code
        and money.report_date >= source_rate.rate_date
    asof left join (
        select * from fx_daily where currency_code = $reporting_currency
    ) as reporting_rate
        on money.report_date >= reporting_rate.rate_date
    left join reference.euro_legacy_conversion_rates as legacy_source
        on money.currency_code = legacy_source.currency_code
    left join reference.euro_legacy_conversion_rates as legacy_reporting
        on legacy_reporting.currency_code = $reporting_currency
),

converted as (
    -- amount x reporting / source, exact on integers, rounded half away from zero.
    select
        *,
        case when source_units is not null and reporting_units is not null
            and source_units <> 0 and amount is not null then
            cast(
                sign(amount) * (
                    (
                        2 * abs(cast(amount * 1000000 as hugeint))
                        * cast(reporting_units * 10000000000 as hugeint)
                        + cast(source_units * 10000000000 as hugeint) * 10000
                    )
                    // (2 * cast(source_units * 10000000000 as hugeint) * 10000)
                ) * cast(0.01 as decimal(38, 2))
                as decimal(18, 2)
            )
        end as amount_converted
    from rated
)

select
    region,
    report_date,
    cast(coalesce(sum(amount_converted) filter (where is_spend), 0) as decimal(18, 2))
        as spend,
    sum(impressions) as impressions,
    sum(reach) as reach,
    sum(clicks) as clicks,
    sum(leads) as leads,
    sum(deals_won) as deals_won,
    cast(coalesce(sum(amount_converted) filter (where not is_spend), 0) as decimal(18, 2))
        as revenue_won
from converted
group by region, report_date
order by region, report_date
