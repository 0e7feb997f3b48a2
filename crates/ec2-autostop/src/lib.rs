//! `ec2-autostop` as a library: the EC2 listing, the per-instance decision and the invocation
//! handler, shared by the Lambda binary (`main.rs`) and the `lightsout plan` command, so that the
//! command shows exactly what the function would do.

pub mod batch;
// The trait is implemented and used only inside this workspace, with concrete types on a
// current-thread runtime: the `Send` bound the lint asks for is not needed.
#[allow(async_fn_in_trait)]
pub mod ec2;
pub mod handler;
pub mod report;

use aws_config::{Region, SdkConfig};

use ec2::Ec2Client;
use lightsout_schedule::Settings;

/// One EC2 client per region of `settings.regions`, or for `config`'s own region when that is
/// empty. Errs (with the message the function reports) when there is no region at all.
pub fn regional_clients(config: &SdkConfig, settings: &Settings) -> Result<Vec<Ec2Client>, String> {
    let regions = if settings.regions.is_empty() {
        let own = config.region().ok_or(
            "setting REGIONS: empty and the function has no region; set AWS_REGION or REGIONS",
        )?;
        vec![own.to_string()]
    } else {
        settings.regions.clone()
    };
    Ok(regions
        .into_iter()
        .map(|region| Ec2Client {
            client: aws_sdk_ec2::Client::from_conf(
                aws_sdk_ec2::config::Builder::from(config)
                    .region(Region::new(region.clone()))
                    .build(),
            ),
            region,
            page_size: settings.page_size,
        })
        .collect())
}
