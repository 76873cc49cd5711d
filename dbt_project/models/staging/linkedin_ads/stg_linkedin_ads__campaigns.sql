-- LinkedIn campaigns of every status renamed and typed. One row per campaign.
-- Instants arrive as epoch milliseconds.
with

source as (

    select * from {{ source('linkedin_ads', 'campaigns') }}

),

renamed as (

    select

        ----------  ids
        id as campaign_id,
        replace(account, 'urn:li:sponsoredAccount:', '') as account_id,
        replace(
            campaign_group, 'urn:li:sponsoredCampaignGroup:', ''
        ) as campaign_group_id,

        ----------  strings
        name as campaign_name,
        status as campaign_status,
        type as campaign_type,
        objective_type,
        cost_type,

        ----------  booleans
        coalesce(
            status in ('REMOVED', 'PENDING_DELETION'), false
        ) as is_removed,

        ----------  timestamps
        to_timestamp(cast(run_schedule_start as double) / 1000) as run_starts_at,
        to_timestamp(cast(run_schedule_end as double) / 1000) as run_ends_at,
        to_timestamp(
            cast(change_audit_stamps_created_time as double) / 1000
        ) as created_at,
        to_timestamp(
            cast(change_audit_stamps_last_modified_time as double) / 1000
        ) as modified_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
