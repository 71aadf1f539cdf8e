//! `lore serve-model`: the local language model over OpenAI's chat API, for `lore serve` processes on
//! other machines (`generation.url`). See `model_service`.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Args;
use lore_core::config::Config;

use super::signals::ShutdownSignals;
use lore_engine as engine;
use lore_web::model_service::ModelService;

#[derive(Args)]
pub struct ServeModelArgs {
    /// Address and port to listen on; beyond loopback, generation.api_key must be set.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8090")]
    pub addr: SocketAddr,
}

pub async fn run(config: Config, args: ServeModelArgs) -> anyhow::Result<ExitCode> {
    if let Some(url) = &config.generation.url {
        anyhow::bail!("lore serve-model serves a model file of its own, but generation.url points at {url}: unset it");
    }
    let stop = ShutdownSignals::listen()?;
    let model = engine::load_language_model(&config).await?;
    let name = model.name().to_string();
    let service =
        ModelService::build(model, args.addr, config.generation.api_key.clone(), config.generation.max_answer_tokens)
            .await?;
    eprintln!("Lore serves the model {name} at http://{} (Ctrl-C stops it)", service.local_addr()?);
    service.run_until_stopped(stop.received()).await?;
    Ok(ExitCode::SUCCESS)
}
