//! Test support: a fresh, migrated database per test on each SQL backend, and the macro that runs one
//! repository test on all of them.
//!
//! Each test gets its own database (`kontor_t_<uuid>` on PostgreSQL and MariaDB, a temp file on
//! SQLite), so tests run in parallel. The servers are the local ones (override with
//! `KONTOR_TEST_POSTGRES_URL` / `KONTOR_TEST_MARIADB_URL`). A server that cannot be reached fails the
//! test; only `KONTOR_TEST_BACKENDS=sqlite,postgres` (a deliberate choice) leaves a backend out.

use kontor_db::SqlDatabase;
use sea_orm::{ConnectionTrait, Database};
use std::path::PathBuf;

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const DEFAULT_MARIADB_URL: &str = "mysql://root@127.0.0.1:3306/mysql";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
    MariaDb,
}

impl TestBackend {
    pub fn name(self) -> &'static str {
        match self {
            TestBackend::Sqlite => "sqlite",
            TestBackend::Postgres => "postgres",
            TestBackend::MariaDb => "mariadb",
        }
    }

    /// Whether `KONTOR_TEST_BACKENDS` (default: all) includes this backend.
    pub fn is_selected(self) -> bool {
        match std::env::var("KONTOR_TEST_BACKENDS") {
            Ok(list) if !list.trim().is_empty() => list
                .split(',')
                .any(|name| name.trim().eq_ignore_ascii_case(self.name())),
            _ => true,
        }
    }

    fn admin_url(self) -> String {
        let (variable, default) = match self {
            TestBackend::Sqlite => return String::new(),
            TestBackend::Postgres => ("KONTOR_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL),
            TestBackend::MariaDb => ("KONTOR_TEST_MARIADB_URL", DEFAULT_MARIADB_URL),
        };
        std::env::var(variable).unwrap_or_else(|_| default.to_owned())
    }
}

/// A migrated database that exists for one test and is dropped with it.
pub struct TestDatabase {
    pub database: SqlDatabase,
    pub url: String,
    backend: TestBackend,
    name: String,
    sqlite_dir: Option<PathBuf>,
}

impl TestDatabase {
    /// Creates and migrates a new database; panics with the reason when the server is unreachable.
    pub async fn new(backend: TestBackend) -> Self {
        let name = format!("kontor_t_{}", uuid::Uuid::new_v4().simple());
        let (url, sqlite_dir) = match backend {
            TestBackend::Sqlite => {
                let dir = std::env::temp_dir().join(&name);
                std::fs::create_dir_all(&dir).expect("create a temp directory for SQLite");
                (format!("sqlite://{}/kontor.db", dir.display()), Some(dir))
            }
            TestBackend::Postgres | TestBackend::MariaDb => {
                let admin_url = backend.admin_url();
                let admin = Database::connect(admin_url.as_str()).await.unwrap_or_else(|error| {
                    panic!(
                        "{} test server at {admin_url} is not reachable: {error}",
                        backend.name()
                    )
                });
                let create = match backend {
                    TestBackend::MariaDb => {
                        format!("CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
                    }
                    _ => format!("CREATE DATABASE {name}"),
                };
                admin
                    .execute_unprepared(&create)
                    .await
                    .expect("create the test database");
                let _ = admin.close().await;
                (replace_database(&admin_url, &name), None)
            }
        };
        let database = SqlDatabase::connect(&url, 5)
            .await
            .expect("connect to the test database");
        database.migrate().await.expect("migrations apply");
        Self {
            database,
            url,
            backend,
            name,
            sqlite_dir,
        }
    }

    pub fn backend(&self) -> TestBackend {
        self.backend
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(dir) = self.sqlite_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
            return;
        }
        // Dropping happens inside the test's runtime, which cannot be blocked on; a short-lived thread
        // with its own runtime removes the database, also after a failed (panicking) test.
        let admin_url = self.backend.admin_url();
        let name = self.name.clone();
        let database = self.database.clone();
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            runtime.block_on(async move {
                let _ = database.close().await;
                if let Ok(admin) = Database::connect(admin_url.as_str()).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
                        .await;
                    let _ = admin.close().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

fn replace_database(url: &str, database: &str) -> String {
    let (base, _) = url.rsplit_once('/').unwrap_or((url, ""));
    format!("{base}/{database}")
}

/// Runs `test` against a fresh database on `backend`, or reports that the backend was deselected.
pub async fn run_on<F, Fut>(backend: TestBackend, test: F)
where
    F: FnOnce(SqlDatabase) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if !backend.is_selected() {
        eprintln!("{} deselected by KONTOR_TEST_BACKENDS", backend.name());
        return;
    }
    let database = TestDatabase::new(backend).await;
    test(database.database.clone()).await;
    drop(database);
}

/// Instantiates repository tests once per SQL backend: `repo_test_suite!(creates_stores, …)` turns each
/// `async fn name(db: SqlDatabase)` in scope into `sqlite::name`, `postgres::name` and `mariadb::name`.
#[macro_export]
macro_rules! repo_test_suite {
    ($($test:ident),+ $(,)?) => {
        $crate::repo_test_suite!(@backend sqlite, Sqlite, $($test),+);
        $crate::repo_test_suite!(@backend postgres, Postgres, $($test),+);
        $crate::repo_test_suite!(@backend mariadb, MariaDb, $($test),+);
    };
    (@backend $module:ident, $variant:ident, $($test:ident),+) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    $crate::run_on($crate::TestBackend::$variant, super::$test).await;
                }
            )+
        }
    };
}

/// A Back Office user `email` holding the built-in `roles` (e.g. `["administrator"]`), and a fresh API
/// token of theirs: what admin API tests sign in with. The password is `correct horse battery`.
pub async fn admin_token(db: &kontor_db::SqlDatabase, email: &str, roles: &[&str]) -> String {
    let repository = std::sync::Arc::new(db.clone());
    let users = kontor_domain::users::UserService::new(repository.clone());
    let user = users
        .create_user(email, "correct horse battery")
        .await
        .expect("the test user can be created");
    let acl = kontor_domain::acl::AclService::new(repository);
    let roles = acl.resolve_roles(roles).await.expect("the roles exist");
    let ids: Vec<_> = roles.iter().map(|role| role.id).collect();
    acl.set_user_roles(user.id, &ids)
        .await
        .expect("the roles can be granted");
    users.issue_api_token(user.id, "tests").await.expect("token").secret
}

/// PostgreSQL's row estimate for `table` (`pg_class.reltuples`): -1 or 0 until the table was analyzed,
/// then the count the last `ANALYZE` saw. `None` on other backends.
pub async fn planner_row_estimate(db: &SqlDatabase, table: &str) -> Option<f64> {
    if db.backend() != sea_orm::DbBackend::Postgres {
        return None;
    }
    let statement = sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "SELECT reltuples::float8 AS estimate FROM pg_class WHERE relname = $1",
        [table.into()],
    );
    let row = db
        .connection()
        .query_one_raw(statement)
        .await
        .expect("pg_class can be read")
        .unwrap_or_else(|| panic!("table {table} exists"));
    Some(row.try_get::<f64>("", "estimate").expect("reltuples"))
}
