#!/usr/bin/env bash
# Benchmark: `migrate drift` between two databases holding a generated schema of N tables
# (each with a primary key, a foreign key, a check, two indexes, a trigger and an RLS policy),
# timed with its peak memory, and compared with `migra` on the same pair when migra is on PATH.
#
#   DATABASE_URL=postgres://user:pw@host:5432/postgres benches/drift.sh [N]
#
# DATABASE_URL names a server where the user may create databases; the two databases are
# created and dropped by the script. The binary is built in release mode first.
set -euo pipefail

tables="${1:-2000}"
admin="${DATABASE_URL:?set DATABASE_URL to a server where databases can be created}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
base="${admin%/*}"
live_db="migrate_bench_live_$$"
expected_db="migrate_bench_expected_$$"
trap 'psql -q "$admin" -c "DROP DATABASE IF EXISTS $live_db WITH (FORCE)" -c "DROP DATABASE IF EXISTS $expected_db WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

cargo build --release --quiet --manifest-path "$root/Cargo.toml"
migrate="$root/target/release/migrate"

mkdir -p "$work/migrations"
{
    echo "CREATE FUNCTION bench_touch() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN NEW.updated_at := now(); RETURN NEW; END \$\$;"
    echo "CREATE TABLE t0 (id bigint PRIMARY KEY);"
    for i in $(seq 1 "$tables"); do
        cat <<SQL
CREATE TABLE t$i (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id bigint REFERENCES t$((i - 1)) (id),
    name text NOT NULL CHECK (length(name) > 0),
    status text NOT NULL DEFAULT 'new',
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX t${i}_parent_idx ON t$i (parent_id);
CREATE INDEX t${i}_open_idx ON t$i (status) WHERE status <> 'done';
CREATE TRIGGER t${i}_touch BEFORE UPDATE ON t$i FOR EACH ROW EXECUTE FUNCTION bench_touch();
ALTER TABLE t$i ENABLE ROW LEVEL SECURITY;
CREATE POLICY t${i}_tenant ON t$i USING (status <> 'hidden') WITH CHECK (length(name) < 100);
SQL
    done
} > "$work/migrations/V1__generated.sql"

psql -q "$admin" -c "CREATE DATABASE $live_db" -c "CREATE DATABASE $expected_db"
live="$base/$live_db"
expected="$base/$expected_db"
echo "migrating two databases with $tables tables each"
(cd "$work" && "$migrate" -q --database-url "$live" up && "$migrate" -q --database-url "$expected" up)

measure() {
    local label="$1"
    shift
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out" 2>"$work/err" || true
    read -r seconds kilobytes < <(tail -n 1 "$work/time")
    printf '%-8s %8.2f s %8.1f MB\n' "$label" "$seconds" "$(echo "$kilobytes / 1024" | bc -l)"
}

echo "full drift between the two databases (both already migrated):"
(cd "$work" && measure migrate "$migrate" --database-url "$live" drift --shadow-url "$expected")
head -1 "$work/out"
if command -v migra >/dev/null; then
    # SQLAlchemy only knows the postgresql:// scheme.
    measure migra migra --unsafe "${live/#postgres:/postgresql:}" "${expected/#postgres:/postgresql:}"
    if [ -s "$work/err" ]; then
        echo "migra failed:" && tail -n 3 "$work/err"
    fi
else
    echo "migra   not on PATH (pip install migra "psycopg[binary]"), not compared"
fi
