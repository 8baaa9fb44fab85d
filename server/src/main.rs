use server::config::{AccountCommand, ApiKeyCommand, Cli, Command, OperatorKeyCommand, ServeArgs};
use std::io::BufRead;
use std::process::ExitCode;

fn main() -> ExitCode {
    // The configuration file becomes environment defaults before anything reads them, while
    // this is the only thread.
    if let Err(e) = server::config::load_file(&std::env::args().collect::<Vec<_>>()) {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let cli = match server::config::parse(std::env::args_os()) {
        Ok(cli) => cli,
        // `--help` and `--version`.
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            eprint!("{}", server::config::refusal(&e));
            return ExitCode::from(2);
        }
    };
    let log = match server::config::log_settings(|name| std::env::var(name).ok()) {
        Ok(log) => log,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(log);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the async runtime starts")
        .block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let options = server::db::DbOptions {
        pool_size: cli.db_pool_size,
        ..Default::default()
    };
    let url = cli.database_url;
    let command = cli.command.expect("config::parse names a command");
    if let Command::Precompress { dir } = &command {
        return precompress(dir);
    }
    // Only `migrate` changes the schema; the other commands refuse a database not migrated.
    if let Command::Migrate = command {
        return match server::db::connect_with(url.expose(), options).await {
            Ok(db) => {
                let _ = db.close().await;
                println!("database is up to date");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot migrate the database at {url}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let db = match server::db::open(url.expose(), options).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("error: cannot open the database at {url}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match command {
        Command::Migrate | Command::Precompress { .. } => unreachable!("handled above"),
        Command::Account(AccountCommand::Create { email }) => {
            let mut line = String::new();
            if std::io::stdin().lock().read_line(&mut line).is_err() {
                eprintln!("error: could not read the password from standard input");
                return ExitCode::FAILURE;
            }
            report(server::cli::create_account(&db, &email, &line).await)
        }
        Command::ApiKey(ApiKeyCommand::Create {
            account,
            name,
            scopes,
        }) => report(server::cli::create_api_key(&db, &account, &name, &scopes).await),
        Command::OperatorKey(OperatorKeyCommand::Create { name }) => {
            report(server::cli::create_operator_key(&db, &name).await)
        }
        Command::OperatorKey(OperatorKeyCommand::Revoke { name }) => {
            report(server::cli::revoke_operator_key(&db, &name).await)
        }
        Command::Serve(args) => serve(db, *args).await,
    }
}

fn precompress(dir: &std::path::Path) -> ExitCode {
    match server::precompress::precompress_dir(dir) {
        Ok(files) => {
            for f in files {
                println!(
                    "{}: {} bytes, brotli {}, gzip {}",
                    f.file.display(),
                    f.original,
                    f.brotli,
                    f.gzip
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn report(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(db: sea_orm::DatabaseConnection, args: ServeArgs) -> ExitCode {
    if args.allow_insecure_targets {
        tracing::warn!(
            "SKW_ALLOW_INSECURE_TARGETS is on: webhooks may target http:// and this machine"
        );
    }
    let listener = match tokio::net::TcpListener::bind(args.addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.addr);
            return ExitCode::FAILURE;
        }
    };
    let running = match server::start(db, &args, listener).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "SchedulingKit webhooks listening on http://{}",
        running.addr
    );
    if let Some(at) = running.metrics_addr {
        tracing::info!("metrics at http://{at}/metrics");
    }
    let stop = running.shutdown_handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing requests and deliveries in flight");
        let _ = stop.send(true);
    });
    running.wait().await;
    ExitCode::SUCCESS
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler installs");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn init_tracing(log: server::config::LogSettings) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(log.filter)
        .with_writer(std::io::stderr);
    if log.json {
        builder.json().init();
    } else {
        builder.init();
    }
}
