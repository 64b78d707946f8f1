use kontor_db::SqlDatabase;
use kontor_testkit::repo_test_suite;

async fn migrations_applied_twice_are_a_no_op(db: SqlDatabase) {
    let before = db.applied_migrations().await.expect("list migrations");
    assert!(!before.is_empty());
    db.migrate().await.expect("second run succeeds");
    db.migrate().await.expect("third run succeeds");
    assert_eq!(db.applied_migrations().await.expect("list migrations"), before);
}

async fn price_types_are_seeded(db: SqlDatabase) {
    use kontor_db::entity::price_type;
    use sea_orm::{EntityTrait, QueryOrder};
    let names: Vec<String> = price_type::Entity::find()
        .order_by_asc(price_type::Column::Id)
        .all(db.connection())
        .await
        .expect("read price types")
        .into_iter()
        .map(|row| row.name)
        .collect();
    assert_eq!(names, ["DEFAULT", "ORIGINAL"]);
}

repo_test_suite!(migrations_applied_twice_are_a_no_op, price_types_are_seeded);
