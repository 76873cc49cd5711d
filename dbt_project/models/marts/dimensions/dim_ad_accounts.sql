-- The ad account dimension: every account of every ad platform with its currency,
-- time zone and name where the platform gives them. Accounts come from the report
-- rows, and for LinkedIn also from its account list (an account without delivery
-- yet). What each platform's extract carries: Meta only the account currency
-- (insights); Google Ads the customer's currency and time zone (its report days are
-- cut in that zone); LinkedIn the account's name, currency, status and test flag,
-- and its analytics days are UTC days.
{%- set ad_platforms = var('ad_platforms') %}
with

ad_reports as (

    select * from {{ ref('int_ad_reports_unioned') }}

),

channel_mappings as (

    select * from {{ ref('channel_mappings') }}

),

{%- if 'google_ads' in ad_platforms %}

google_ads_geographic_views as (

    select * from {{ ref('stg_google_ads__geographic_views') }}

),
{%- endif %}

{%- if 'linkedin_ads' in ad_platforms %}

linkedin_ads_accounts as (

    select * from {{ ref('stg_linkedin_ads__ad_accounts') }}

),
{%- endif %}

report_rows_ranked as (

    select
        ad_platform,
        account_id,
        currency_code,
        report_date,
        campaign_id,
        row_number() over (
            partition by ad_platform, account_id
            order by report_date desc, ad_report_key
        ) as recency_rank

    from ad_reports

),

report_accounts as (

    select
        ad_platform,
        account_id,
        max(case when recency_rank = 1 then currency_code end) as currency_code,
        min(report_date) as first_report_date,
        max(report_date) as last_report_date,
        count(distinct campaign_id) as campaign_count

    from report_rows_ranked
    group by 1, 2

),

platform_accounts as (

    select
        cast(null as {{ dbt.type_string() }}) as ad_platform,
        cast(null as {{ dbt.type_string() }}) as account_id,
        cast(null as {{ dbt.type_string() }}) as account_label,
        cast(null as {{ dbt.type_string() }}) as currency_code,
        cast(null as {{ dbt.type_string() }}) as time_zone,
        cast(null as {{ dbt.type_string() }}) as report_day_time_zone,
        cast(null as {{ dbt.type_string() }}) as account_status,
        cast(null as boolean) as is_test
    where 1 = 0
    {%- if 'google_ads' in ad_platforms %}

    union all

    -- the customer's current time zone and currency: the latest loaded row's
    select
        'google_ads' as ad_platform,
        customer_id as account_id,
        cast(null as {{ dbt.type_string() }}) as account_label,
        currency_code,
        time_zone,
        time_zone as report_day_time_zone,
        cast(null as {{ dbt.type_string() }}) as account_status,
        cast(null as boolean) as is_test

    from (
        select
            customer_id,
            currency_code,
            time_zone,
            row_number() over (
                partition by customer_id
                order by report_date desc, loaded_at desc, geographic_view_id
            ) as recency_rank
        from google_ads_geographic_views
    ) as google_ads_customers
    where recency_rank = 1
    {%- endif %}
    {%- if 'linkedin_ads' in ad_platforms %}

    union all

    select
        'linkedin_ads' as ad_platform,
        account_id,
        account_name as account_label,
        currency_code,
        cast(null as {{ dbt.type_string() }}) as time_zone,
        'UTC' as report_day_time_zone,
        account_status,
        is_test

    from linkedin_ads_accounts
    {%- endif %}

),

platform_channels as (

    select
        source_value as ad_platform,
        channel

    from channel_mappings
    where source_field = 'ad_platform'

),

joined as (

    select
        coalesce(report_accounts.ad_platform, platform_accounts.ad_platform)
            as ad_platform,
        coalesce(report_accounts.account_id, platform_accounts.account_id)
            as account_id,
        platform_accounts.account_label,
        coalesce(platform_accounts.currency_code, report_accounts.currency_code)
            as currency_code,
        platform_accounts.time_zone,
        platform_accounts.report_day_time_zone,
        platform_accounts.account_status,
        platform_accounts.is_test,
        report_accounts.first_report_date,
        report_accounts.last_report_date,
        coalesce(report_accounts.campaign_count, 0) as campaign_count

    from report_accounts
    full outer join platform_accounts
        on
            report_accounts.ad_platform = platform_accounts.ad_platform
            and report_accounts.account_id = platform_accounts.account_id

),

final as (

    select
        joined.ad_platform || ':' || joined.account_id as ad_account_key,
        joined.ad_platform,
        joined.account_id,
        joined.account_label,
        coalesce(platform_channels.channel, 'unmapped') as channel,
        joined.currency_code,
        joined.time_zone,
        joined.report_day_time_zone,
        joined.account_status,
        joined.is_test,
        cast(joined.campaign_count as integer) as campaign_count,
        joined.first_report_date,
        joined.last_report_date

    from joined
    left join platform_channels
        on joined.ad_platform = platform_channels.ad_platform

)

select * from final
