-- The bench's lower bound for marketing_contribution_by_region_month: the same numbers
-- computed by one hand-written DuckDB query straight from the raw tables (and the
-- reference seeds), without dbt, staging views, intermediate tables or tests.
-- reach2revenue.bench runs it on the built warehouse and checks it equals the mart to the
-- cent; the dbt build is then reported as a ratio of this query's time.
-- Parameters ($reporting_currency, $reporting_timezone, $fx_max_stale_days) are bound by
-- the caller, in a session whose TimeZone is UTC (as dbt's profile sets it: raw instants
-- without an offset are read as UTC). Grain: region x close month, every region (and
-- Unassigned when a won deal is there) x every month from the first to the last month
-- with a won deal, zero-filled.
--
-- The import CTEs (FX rates, regions, deals' regions) are the region query's
-- (bench_region_mart.sql); each file stays one standalone query.
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

-- A converted Salesforce lead is its contact: the contact takes the source and the
-- creation of its first converted lead (stg_salesforce__crm_contacts).
first_converted_leads as (
    select
        converted_contact_id as contact_id,
        lead_source,
        cast(created_date as timestamptz) as created_at
    from raw.salesforce_leads
    where coalesce(cast(is_converted as boolean), false) and converted_contact_id is not null
    qualify row_number() over (
        partition by converted_contact_id
        order by cast(created_date as timestamptz), id
    ) = 1
),

-- Every CRM person (HubSpot contacts; Salesforce contacts and leads not converted), deleted
-- ones too: a deleted person still places a deal in a region, but touches nothing.
people as (
    select
        'hubspot' as crm,
        id as contact_id,
        country as country_raw,
        hs_analytics_source as touch_source,
        cast(nullif(coalesce(createdate, created_at), '') as timestamptz) as created_at,
        coalesce(cast(archived as boolean), false) as is_deleted,
        utm_medium,
        utm_campaign
    from raw.hubspot_contacts
    union all
    select
        'salesforce',
        contacts.id,
        -- the territory rule: where the account is billed, else the mailing country
        coalesce(
            nullif(upper(trim(accounts.billing_country_code)), ''),
            nullif(trim(accounts.billing_country), ''),
            contacts.mailing_country
        ),
        coalesce(contacts.lead_source, first_converted_leads.lead_source),
        case
            when first_converted_leads.created_at < cast(contacts.created_date as timestamptz)
                then first_converted_leads.created_at
            else cast(contacts.created_date as timestamptz)
        end,
        coalesce(cast(contacts.is_deleted as boolean), false),
        null,
        null
    from raw.salesforce_contacts as contacts
    left join raw.salesforce_accounts as accounts on contacts.account_id = accounts.id
    left join first_converted_leads on contacts.id = first_converted_leads.contact_id
    union all
    select
        'salesforce',
        id,
        country,
        lead_source,
        cast(created_date as timestamptz),
        coalesce(cast(is_deleted as boolean), false),
        null,
        null
    from raw.salesforce_leads
    where not coalesce(cast(is_converted as boolean), false)
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

-- A deal's region is its first linked person's (numeric order for HubSpot's digit ids).
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
        cast(nullif(closedate, '') as timestamptz) as closed_at,
        cast(nullif(coalesce(createdate, created_at), '') as timestamptz) as created_at
    from raw.hubspot_deals
    where dealstage = 'closedwon'
        and not coalesce(cast(archived as boolean), false)
        and nullif(closedate, '') is not null
    union all
    select
        'salesforce',
        id,
        upper(trim(currency_iso_code)),
        cast(nullif(trim(amount), '') as decimal(18, 2)),
        -- CloseDate is a plain date: 12:00 UTC keeps it on its day in every time zone
        cast(nullif(trim(close_date), '') || ' 12:00:00+00' as timestamptz),
        cast(created_date as timestamptz)
    from raw.salesforce_opportunities
    where coalesce(cast(is_won as boolean), false)
        and not coalesce(cast(is_deleted as boolean), false)
        and nullif(trim(close_date), '') is not null
),

-- Every CRM touch (stg_*__crm_campaign_touches): HubSpot's original source at the
-- contact's creation; Salesforce campaign memberships (at the first response, or when
-- added) and lead sources (at the person's creation).
touches as (
    select
        'hubspot' as crm,
        contact_id,
        'hubspot_analytics_source' as touch_source_field,
        touch_source,
        utm_medium,
        created_at as touched_at
    from people
    where crm = 'hubspot'
        and not is_deleted
        and (touch_source is not null or utm_campaign is not null)
    union all
    select
        'salesforce',
        coalesce(members.contact_id, leads.converted_contact_id, members.lead_id),
        'salesforce_campaign_type',
        campaigns.type,
        null,
        case
            when coalesce(cast(members.has_responded as boolean), false)
                and nullif(trim(members.first_responded_date), '') is not null
                then greatest(
                    cast(members.created_date as timestamptz),
                    cast(
                        cast(cast(trim(members.first_responded_date) as date) as varchar)
                        || ' 00:00:00+00' as timestamptz
                    )
                )
            else cast(members.created_date as timestamptz)
        end
    from raw.salesforce_campaign_members as members
    left join raw.salesforce_campaigns as campaigns on members.campaign_id = campaigns.id
    left join raw.salesforce_leads as leads on members.lead_id = leads.id
    where not coalesce(cast(members.is_deleted as boolean), false)
        and not coalesce(cast(campaigns.is_deleted as boolean), false)
    union all
    select 'salesforce', contact_id, 'salesforce_lead_source', touch_source, null, created_at
    from people
    where crm = 'salesforce' and not is_deleted and touch_source is not null
),

-- The touches that count: a marketing channel (a mapped utm_medium wins over the touch
-- source; both compared lower(trim())), of a person the CRM still has.
marketing_touches as (
    select touches.crm, touches.contact_id, touches.touched_at
    from touches
    inner join people
        on touches.crm = people.crm and touches.contact_id = people.contact_id
    left join reference.channel_mappings as utm_mappings
        on utm_mappings.source_field = 'utm_medium'
        and nullif(lower(trim(touches.utm_medium)), '') = utm_mappings.source_value
    left join reference.channel_mappings as source_mappings
        on touches.touch_source_field = source_mappings.source_field
        and nullif(lower(trim(touches.touch_source)), '') = source_mappings.source_value
    inner join reference.channels
        on coalesce(utm_mappings.channel, source_mappings.channel, 'unmapped')
        = channels.channel
    where channels.is_marketing and not people.is_deleted
),

-- A won deal is influenced when any linked person has a marketing touch up to its
-- close, sourced when one of those came at or before its creation. A touch reaching
-- the deal through two people only repeats a row: any() needs no distinct.
deal_touch_flags as (
    select
        won_deals.crm,
        won_deals.deal_id,
        coalesce(bool_or(marketing_touches.touched_at <= won_deals.created_at), false)
            as is_marketing_sourced
    from won_deals
    inner join deal_links
        on won_deals.crm = deal_links.crm and won_deals.deal_id = deal_links.deal_id
    inner join marketing_touches
        on deal_links.crm = marketing_touches.crm
        and deal_links.contact_id = marketing_touches.contact_id
    where marketing_touches.touched_at <= won_deals.closed_at
    group by won_deals.crm, won_deals.deal_id
),

-- The close day is closed_at seen in the reporting time zone; the deal's rate is that
-- day's (the last one at most $fx_max_stale_days old; fixed rates for the euro and
-- former euro currencies).
rated as (
    select
        coalesce(deal_regions.region, 'Unassigned') as region,
        cast(timezone($reporting_timezone, won_deals.closed_at) as date) as report_date,
        won_deals.currency_code,
        won_deals.amount,
        coalesce(deal_touch_flags.is_marketing_sourced, false) as is_marketing_sourced,
        deal_touch_flags.deal_id is not null as is_marketing_influenced
    from won_deals
    left join deal_regions
        on won_deals.crm = deal_regions.crm and won_deals.deal_id = deal_regions.deal_id
    left join deal_touch_flags
        on won_deals.crm = deal_touch_flags.crm
        and won_deals.deal_id = deal_touch_flags.deal_id
),

rated_with_units as (
    select
        rated.*,
        case
            when rated.currency_code = 'EUR' then 1
            when legacy_source.adopted_on <= rated.report_date
                then cast(legacy_source.units_per_eur as decimal(38, 10))
            when rated.report_date - source_rate.rate_date <= $fx_max_stale_days
                then source_rate.units_per_eur
        end as source_units,
        case
            when $reporting_currency = 'EUR' then 1
            when legacy_reporting.adopted_on <= rated.report_date
                then cast(legacy_reporting.units_per_eur as decimal(38, 10))
            when rated.report_date - reporting_rate.rate_date <= $fx_max_stale_days
                then reporting_rate.units_per_eur
        end as reporting_units
    from rated
    asof left join fx_daily as source_rate
        on rated.currency_code = source_rate.currency_code
        and rated.report_date >= source_rate.rate_date
    asof left join (
        select * from fx_daily where currency_code = $reporting_currency
    ) as reporting_rate
        on rated.report_date >= reporting_rate.rate_date
    left join reference.euro_legacy_conversion_rates as legacy_source
        on rated.currency_code = legacy_source.currency_code
    left join reference.euro_legacy_conversion_rates as legacy_reporting
        on legacy_reporting.currency_code = $reporting_currency
),

classified as (
    -- amount x reporting / source, exact on integers, rounded half away from zero;
    -- null (an unconverted deal, left out of every revenue) without both rates.
    select
        region,
        cast(date_trunc('month', report_date) as date) as month_start,
        is_marketing_sourced,
        is_marketing_influenced,
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
        end as revenue
    from rated_with_units
),

deal_measures as (
    select
        region,
        month_start,
        count(*) as won_deals,
        sum(revenue) as won_revenue,
        count(*) filter (where is_marketing_sourced) as marketing_sourced_deals,
        sum(revenue) filter (where is_marketing_sourced) as marketing_sourced_revenue,
        count(*) filter (where not is_marketing_sourced) as sales_sourced_deals,
        sum(revenue) filter (where not is_marketing_sourced) as sales_sourced_revenue,
        count(*) filter (where is_marketing_influenced) as marketing_influenced_deals,
        sum(revenue) filter (where is_marketing_influenced) as marketing_influenced_revenue,
        count(*) filter (where revenue is null) as unconverted_deals
    from classified
    group by region, month_start
),

region_months as (
    select regions.region, cast(months.month_start as date) as month_start
    from (
        select region from country_regions
        union
        select region from classified
    ) as regions
    cross join (
        select unnest(generate_series(
            cast(min(month_start) as timestamp),
            cast(max(month_start) as timestamp),
            interval '1 month'
        )) as month_start
        from classified
    ) as months
),

zero_filled as (
    select
        region_months.region,
        region_months.month_start,
        coalesce(deal_measures.won_deals, 0) as won_deals,
        cast(coalesce(deal_measures.won_revenue, 0) as decimal(18, 2)) as won_revenue,
        coalesce(deal_measures.marketing_sourced_deals, 0) as marketing_sourced_deals,
        cast(coalesce(deal_measures.marketing_sourced_revenue, 0) as decimal(18, 2))
            as marketing_sourced_revenue,
        coalesce(deal_measures.sales_sourced_deals, 0) as sales_sourced_deals,
        cast(coalesce(deal_measures.sales_sourced_revenue, 0) as decimal(18, 2))
            as sales_sourced_revenue,
        coalesce(deal_measures.marketing_influenced_deals, 0) as marketing_influenced_deals,
        cast(coalesce(deal_measures.marketing_influenced_revenue, 0) as decimal(18, 2))
            as marketing_influenced_revenue,
        coalesce(deal_measures.unconverted_deals, 0) as unconverted_deals
    from region_months
    left join deal_measures
        on region_months.region = deal_measures.region
        and region_months.month_start = deal_measures.month_start
),

-- Shares of the won revenue to 4 places, rounded half away from zero, computed on cents
-- (a decimal quotient would go through DOUBLE); null without won revenue.
cents as (
    select
        *,
        cast(won_revenue * 100 as hugeint) as won_cents,
        cast(marketing_sourced_revenue * 100 as hugeint) as sourced_cents,
        cast(sales_sourced_revenue * 100 as hugeint) as sales_cents,
        cast(marketing_influenced_revenue * 100 as hugeint) as influenced_cents
    from zero_filled
)

select
    region,
    month_start,
    won_deals,
    won_revenue,
    marketing_sourced_deals,
    marketing_sourced_revenue,
    sales_sourced_deals,
    sales_sourced_revenue,
    marketing_influenced_deals,
    marketing_influenced_revenue,
    cast(
        sign(sourced_cents) * sign(won_cents)
        * ((2 * abs(sourced_cents) * 10000 + abs(won_cents)) // nullif(2 * abs(won_cents), 0))
        * cast(0.0001 as decimal(38, 4))
        as decimal(9, 4)
    ) as marketing_sourced_share,
    cast(
        sign(sales_cents) * sign(won_cents)
        * ((2 * abs(sales_cents) * 10000 + abs(won_cents)) // nullif(2 * abs(won_cents), 0))
        * cast(0.0001 as decimal(38, 4))
        as decimal(9, 4)
    ) as sales_sourced_share,
    cast(
        sign(influenced_cents) * sign(won_cents)
        * ((2 * abs(influenced_cents) * 10000 + abs(won_cents)) // nullif(2 * abs(won_cents), 0))
        * cast(0.0001 as decimal(38, 4))
        as decimal(9, 4)
    ) as marketing_influenced_share,
    unconverted_deals
from cents
order by region, month_start
