//! `cogway`: run the gateway, manage keys, list models.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use cogway_gateway::keys::{KeyStore, NewKey, validate_services};
use cogway_gateway::settings::Overrides;
use cogway_gateway::{Application, Settings, app::SERVICES, db, model_store};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "cogway", version, about = "Self-hosted cognitive services with Azure-compatible REST APIs")]
struct Cli {
    /// Settings file (TOML). Default: ./cogway.toml if present.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Database URL, e.g. sqlite:///var/lib/cogway/cogway.db
    #[arg(long, global = true)]
    database: Option<String>,
    /// Models directory (default ~/.cache/cogway/models).
    #[arg(long, global = true)]
    models_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Serve {
        #[arg(long)]
        host: Option<String>,
        #[arg(long)]
        port: Option<u16>,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Inspect the model store.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key and print it (the only time it is shown).
    Create {
        #[arg(long)]
        name: String,
        /// Comma-separated services the key may use (default: all).
        #[arg(long, value_delimiter = ',')]
        services: Vec<String>,
        /// Requests per second.
        #[arg(long)]
        rps: Option<u32>,
        /// Characters per hour.
        #[arg(long)]
        chars_per_hour: Option<u64>,
        /// Seconds of audio per hour (speech recognition).
        #[arg(long)]
        audio_seconds_per_hour: Option<u64>,
        /// Images analysed per hour (vision).
        #[arg(long)]
        images_per_hour: Option<u64>,
        /// Make it an admin key.
        #[arg(long)]
        admin: bool,
    },
    /// List keys (ids and limits, never the keys).
    List,
    /// Revoke a key by id.
    Revoke { id: String },
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// What the manifest lists and what is installed, with sizes and licenses.
    List,
}

fn init_logging(settings: &Settings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log.level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if settings.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut overrides =
        Overrides { database: cli.database.clone(), models_dir: cli.models_dir.clone(), ..Overrides::default() };
    if let Some(Command::Serve { host, port }) = &cli.command {
        overrides.host = host.clone();
        overrides.port = *port;
    }
    let settings = Settings::load(cli.config.as_deref(), &overrides)?;
    match cli.command.unwrap_or(Command::Serve { host: None, port: None }) {
        Command::Serve { .. } => {
            init_logging(&settings);
            let app = Application::build(settings).await?;
            app.run_until_stopped().await.context("server")?;
        }
        Command::Keys { command } => keys(command, &settings).await?,
        Command::Models { command: ModelsCommand::List } => list_models(&settings)?,
    }
    Ok(())
}

async fn keys(command: KeysCommand, settings: &Settings) -> anyhow::Result<()> {
    // With Redis configured, a revocation here also reaches every running replica at once.
    let shared = match settings.redis.url.as_deref().filter(|u| !u.is_empty()) {
        Some(url) => Some(cogway_gateway::shared::Shared::connect(url, &settings.redis.prefix).await?),
        None => None,
    };
    let store = KeyStore::new(db::connect(&settings.database.url).await?).with_shared(shared);
    match command {
        KeysCommand::Create { name, services, rps, chars_per_hour, audio_seconds_per_hour, images_per_hour, admin } => {
            validate_services(&services, &SERVICES)?;
            anyhow::ensure!(rps != Some(0), "--rps must be at least 1");
            let (key, info) = store
                .create(&NewKey {
                    name,
                    services,
                    rps,
                    chars_per_hour,
                    audio_secs_per_hour: audio_seconds_per_hour,
                    images_per_hour,
                    is_admin: admin,
                })
                .await?;
            println!("{key}");
            eprintln!("created key id={} name={} services={}", info.id, info.name, info.services.join(","));
        }
        KeysCommand::List => {
            println!(
                "{:<14} {:<20} {:<16} {:>6} {:>14} {:>14} {:>12} {:<6} {:<8}",
                "ID", "NAME", "SERVICES", "RPS", "CHARS/HOUR", "AUDIO S/HOUR", "IMAGES/HOUR", "ADMIN", "STATE"
            );
            for k in store.list().await? {
                println!(
                    "{:<14} {:<20} {:<16} {:>6} {:>14} {:>14} {:>12} {:<6} {:<8}",
                    k.id,
                    k.name,
                    k.services.join(","),
                    k.rps.map_or("default".into(), |r| r.to_string()),
                    k.chars_per_hour.map_or("unlimited".into(), |c| c.to_string()),
                    k.audio_secs_per_hour.map_or("unlimited".into(), |c| c.to_string()),
                    k.images_per_hour.map_or("unlimited".into(), |c| c.to_string()),
                    k.is_admin,
                    if k.revoked_at.is_some() { "revoked" } else { "live" }
                );
            }
        }
        KeysCommand::Revoke { id } => {
            anyhow::ensure!(store.revoke(&id).await?, "no live key with id {id}");
            println!("revoked {id}");
        }
    }
    Ok(())
}

fn list_models(settings: &Settings) -> anyhow::Result<()> {
    println!("models directory: {}", settings.models.dir.display());
    let models = model_store::installed(&settings.models.dir)?;
    // Columns as wide as their longest entry, so long names keep the table aligned.
    let width = |f: fn(&model_store::Installed) -> usize, header: &str| {
        models.iter().map(f).chain([header.len()]).max().unwrap_or(0)
    };
    let (name_w, service_w, license_w) =
        (width(|m| m.name.len(), "NAME"), width(|m| m.service.len(), "SERVICE"), width(|m| m.license.len(), "LICENSE"));
    println!(
        "{:<name_w$} {:<service_w$} {:<license_w$} {:>10}  {:<8} SOURCE",
        "NAME", "SERVICE", "LICENSE", "SIZE", "STATE"
    );
    for m in &models {
        let size = m.size.map_or("bundled".to_string(), |b| format!("{:.1} MB", b as f64 / 1e6));
        let state = if m.present { "present" } else { "missing" };
        println!(
            "{:<name_w$} {:<service_w$} {:<license_w$} {:>10}  {:<8} {}",
            m.name, m.service, m.license, size, state, m.source
        );
    }
    Ok(())
}
