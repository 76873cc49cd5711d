-- Every ad platform's conformed report rows, one relation: one row per platform,
-- account, campaign, report day and country.
with

unioned as (

    {{ union_conformed(var('ad_platforms'), 'ad_reports', [
        'ad_report_id', 'ad_platform', 'account_id', 'campaign_id', 'campaign_name',
        'country_code', 'currency_code', 'report_date', 'impressions', 'reach',
        'clicks', 'spend', 'leads',
    ]) }}

),

keyed as (

    select
        ad_platform || ':' || ad_report_id as ad_report_key,
        *

    from unioned

)

select * from keyed
