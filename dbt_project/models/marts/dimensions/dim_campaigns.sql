-- The campaign dimension across sources: ad platform campaigns (from their report
-- rows), CRM campaigns (Salesforce Campaign) and UTM campaigns (the utm_campaign of
-- CRM people: HubSpot). Names tie a CRM or UTM campaign to an ad campaign by
-- lower(trim(campaign_name)); several ad campaigns with that name: the one that
-- delivered last (then the smallest key) is the match, and the count says so.
{%- set crms = var('crms') %}
with

ad_reports as (

    select * from {{ ref('int_ad_reports_unioned') }}

),

channel_mappings as (

    select * from {{ ref('channel_mappings') }}

),

people as (

    select * from {{ ref('int_crm_contacts_unioned') }}

),

touches as (

    select * from {{ ref('int_touches_mapped_to_channels') }}

),

{%- if 'salesforce' in crms %}

salesforce_campaigns as (

    select * from {{ ref('stg_salesforce__campaigns') }}

),
{%- endif %}

ad_rows_ranked as (

    select
        ad_platform,
        campaign_id,
        account_id,
        campaign_name,
        report_date,
        row_number() over (
            partition by ad_platform, campaign_id
            order by report_date desc, ad_report_key
        ) as recency_rank

    from ad_reports

),

ad_campaigns as (

    -- name and account as of the campaign's latest report row
    select
        'ad_platform' as campaign_source,
        ad_platform as source_name,
        max(case when recency_rank = 1 then account_id end) as account_id,
        campaign_id,
        max(case when recency_rank = 1 then campaign_name end) as campaign_name,
        cast(null as {{ dbt.type_string() }}) as campaign_type,
        cast(null as {{ dbt.type_string() }}) as channel_source_field,
        ad_platform as channel_source_value,
        false as is_deleted,
        min(report_date) as first_activity_date,
        max(report_date) as last_activity_date

    from ad_rows_ranked
    group by ad_platform, campaign_id

),

crm_campaigns as (

    select
        cast(null as {{ dbt.type_string() }}) as campaign_source,
        cast(null as {{ dbt.type_string() }}) as source_name,
        cast(null as {{ dbt.type_string() }}) as account_id,
        cast(null as {{ dbt.type_string() }}) as campaign_id,
        cast(null as {{ dbt.type_string() }}) as campaign_name,
        cast(null as {{ dbt.type_string() }}) as campaign_type,
        cast(null as {{ dbt.type_string() }}) as channel_source_field,
        cast(null as {{ dbt.type_string() }}) as channel_source_value,
        cast(null as boolean) as is_deleted,
        cast(null as date) as first_activity_date,
        cast(null as date) as last_activity_date
    where 1 = 0
    {%- if 'salesforce' in crms %}

    union all

    select
        'crm_campaign' as campaign_source,
        'salesforce' as source_name,
        cast(null as {{ dbt.type_string() }}) as account_id,
        campaign_id,
        campaign_name,
        campaign_type,
        'salesforce_campaign_type' as channel_source_field,
        campaign_type as channel_source_value,
        is_deleted,
        start_date as first_activity_date,
        end_date as last_activity_date

    from salesforce_campaigns
    {%- endif %}

),

utm_people as (

    select
        crm,
        crm_contact_key,
        utm_campaign,
        lower(trim(utm_campaign)) as campaign_name_normalized,
        {{ local_date('created_at', var('reporting_timezone')) }} as created_date

    from people
    where nullif(trim(utm_campaign), '') is not null

),

utm_spellings_ranked as (

    -- the campaign's most common spelling (then the smallest) names it
    select
        crm,
        campaign_name_normalized,
        utm_campaign,
        row_number() over (
            partition by crm, campaign_name_normalized
            order by count(*) desc, utm_campaign
        ) as spelling_rank

    from utm_people
    group by 1, 2, 3

),

utm_channels_ranked as (

    -- the channel most of the campaign's touches are in (then the first by name)
    select
        utm_people.crm,
        utm_people.campaign_name_normalized,
        touches.channel,
        row_number() over (
            partition by utm_people.crm, utm_people.campaign_name_normalized
            order by count(*) desc, touches.channel
        ) as channel_rank

    from utm_people
    inner join touches
        on
            utm_people.crm_contact_key = touches.crm_contact_key
            and utm_people.campaign_name_normalized
            = lower(trim(touches.campaign_name))
    group by 1, 2, 3

),

utm_campaigns as (

    select
        'utm' as campaign_source,
        utm_people.crm as source_name,
        cast(null as {{ dbt.type_string() }}) as account_id,
        cast(null as {{ dbt.type_string() }}) as campaign_id,
        utm_spellings_ranked.utm_campaign as campaign_name,
        cast(null as {{ dbt.type_string() }}) as campaign_type,
        'channel' as channel_source_field,
        utm_channels_ranked.channel as channel_source_value,
        false as is_deleted,
        min(utm_people.created_date) as first_activity_date,
        max(utm_people.created_date) as last_activity_date

    from utm_people
    inner join utm_spellings_ranked
        on
            utm_people.crm = utm_spellings_ranked.crm
            and utm_people.campaign_name_normalized
            = utm_spellings_ranked.campaign_name_normalized
            and utm_spellings_ranked.spelling_rank = 1
    left join utm_channels_ranked
        on
            utm_people.crm = utm_channels_ranked.crm
            and utm_people.campaign_name_normalized
            = utm_channels_ranked.campaign_name_normalized
            and utm_channels_ranked.channel_rank = 1
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9

),

campaigns as (

    select * from ad_campaigns
    union all
    select * from crm_campaigns
    union all
    select * from utm_campaigns

),

campaigns_keyed as (

    select
        case
            when campaign_source = 'utm'
                then 'utm:' || source_name || ':' || lower(trim(campaign_name))
            else source_name || ':' || campaign_id
        end as campaign_key,
        *,
        lower(trim(campaign_name)) as campaign_name_normalized

    from campaigns

),

ad_campaigns_by_name as (

    select
        campaign_name_normalized,
        campaign_key,
        count(*) over (partition by campaign_name_normalized)
            as ad_campaigns_with_name,
        row_number() over (
            partition by campaign_name_normalized
            order by last_activity_date desc, campaign_key
        ) as match_rank

    from campaigns_keyed
    where
        campaign_source = 'ad_platform'
        and campaign_name_normalized is not null

),

final as (

    select
        campaigns_keyed.campaign_key,
        campaigns_keyed.campaign_source,
        campaigns_keyed.source_name,
        campaigns_keyed.account_id,
        campaigns_keyed.campaign_id,
        campaigns_keyed.campaign_name,
        campaigns_keyed.campaign_name_normalized,
        campaigns_keyed.campaign_type,
        case
            when campaigns_keyed.channel_source_field = 'channel'
                then coalesce(campaigns_keyed.channel_source_value, 'unmapped')
            else coalesce(channel_mappings.channel, 'unmapped')
        end as channel,
        case
            when campaigns_keyed.campaign_source = 'ad_platform'
                then campaigns_keyed.campaign_key
            else ad_campaigns_by_name.campaign_key
        end as matched_ad_campaign_key,
        cast(
            case
                when campaigns_keyed.campaign_source = 'ad_platform' then 1
                else coalesce(ad_campaigns_by_name.ad_campaigns_with_name, 0)
            end as integer
        ) as matched_ad_campaign_count,
        campaigns_keyed.is_deleted,
        campaigns_keyed.first_activity_date,
        campaigns_keyed.last_activity_date

    from campaigns_keyed
    left join channel_mappings
        on
            coalesce(campaigns_keyed.channel_source_field, 'ad_platform')
            = channel_mappings.source_field
            and lower(trim(campaigns_keyed.channel_source_value))
            = channel_mappings.source_value
    left join ad_campaigns_by_name
        on
            campaigns_keyed.campaign_name_normalized
            = ad_campaigns_by_name.campaign_name_normalized
            and ad_campaigns_by_name.match_rank = 1

)

select * from final
