// pgJDBC through Gatehouse: one line per check, compared with the transcript
// in tests/tests/compat.rs (the same for every client, plus JDBC's extras).
//
// usage: java -cp DIR:/usr/share/java/postgresql.jar Check HOST PORT USER PASSWORD DBNAME MASK_PORT MASK_PASSWORD
//
// PORT is a gateway with guardrails (drop, truncate, delete-without-where),
// MASK_PORT (MASK_PASSWORD) one with the sandbox guest in mask-rows mode.

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.Properties;
import org.postgresql.PGStatement;
import org.postgresql.util.PSQLException;

public class Check {
    static final PrintStream out =
            new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);

    interface Sql {
        void run() throws SQLException;
    }

    static Connection connect(String host, String port, String user, String password, String db,
            String queryMode) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", user);
        props.setProperty("password", password);
        props.setProperty("sslmode", "disable");
        props.setProperty("connectTimeout", "10");
        props.setProperty("preferQueryMode", queryMode);
        return DriverManager.getConnection("jdbc:postgresql://" + host + ":" + port + "/" + db, props);
    }

    /** Run a statement that must fail; print its SQLSTATE and message. */
    static void denial(String label, Sql sql) throws SQLException {
        try {
            sql.run();
            out.println(label + ": ran (expected a denial)");
        } catch (PSQLException e) {
            if (e.getServerErrorMessage() == null) {
                throw e;
            }
            out.println(label + ": ERROR " + e.getSQLState() + " " + e.getServerErrorMessage().getMessage());
        }
    }

    static int count(Connection conn) throws SQLException {
        try (Statement st = conn.createStatement();
                ResultSet rs = st.executeQuery("select count(*) from compat_t")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    /** Execute `ps` (select ?::int * 2) for 1..=n and sum the results. */
    static int doubled(PreparedStatement ps, int n) throws SQLException {
        int total = 0;
        for (int i = 1; i <= n; i++) {
            ps.setInt(1, i);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                total += rs.getInt(1);
            }
        }
        return total;
    }

    public static void main(String[] args) throws Exception {
        String host = args[0], port = args[1], user = args[2], password = args[3], db = args[4];
        String maskPort = args[5], maskPassword = args[6];
        try (Connection conn = connect(host, port, user, password, db, "extended")) {
            // A parameterised SELECT.
            try (PreparedStatement ps =
                    conn.prepareStatement("select ?::int + 1 as n, ?::text as t, ?::bool as b")) {
                ps.setInt(1, 41);
                ps.setString(2, "grüße ✓");
                ps.setBoolean(3, true);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    out.println("select: " + rs.getInt(1) + "|" + rs.getString(2) + "|" + rs.getBoolean(3));
                }
            }
            try (PreparedStatement ps = conn.prepareStatement("select ?::text as v")) {
                ps.setNull(1, Types.VARCHAR);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    String v = rs.getString(1);
                    out.println("null-param: " + (v == null ? "<null>" : v));
                }
            }

            // DDL and DML on a temp table; the inserts as one JDBC batch
            // (several Bind/Execute before one Sync).
            try (Statement st = conn.createStatement()) {
                st.execute("create temp table compat_t (id int primary key, note text, at timestamptz)");
                out.println("create: ok");
            }
            try (PreparedStatement ps = conn.prepareStatement("insert into compat_t values (?, ?, now())")) {
                String[] notes = {"one", "two", "three"};
                for (int i = 0; i < notes.length; i++) {
                    ps.setInt(1, i + 1);
                    ps.setString(2, notes[i]);
                    ps.addBatch();
                }
                int inserted = 0;
                for (int n : ps.executeBatch()) {
                    inserted += n;
                }
                out.println("insert: " + inserted);
            }
            try (PreparedStatement ps =
                    conn.prepareStatement("update compat_t set note = note || '!' where id = ?")) {
                ps.setInt(1, 2);
                out.println("update: " + ps.executeUpdate());
            }
            try (Statement st = conn.createStatement();
                    ResultSet rs = st.executeQuery("select id, note from compat_t order by id")) {
                StringBuilder rows = new StringBuilder();
                while (rs.next()) {
                    rows.append(rows.length() == 0 ? "" : ";").append(rs.getInt(1)).append('=').append(rs.getString(2));
                }
                out.println("rows: " + rows);
            }

            // One PreparedStatement executed ten times: past prepareThreshold
            // (5) pgJDBC switches to a named server-side statement, after
            // which it only sends Bind/Execute.
            try (PreparedStatement loop = conn.prepareStatement("select ?::int * 2")) {
                out.println("loop: " + doubled(loop, 10));
                // How many statements of the loop are prepared upstream.
                try (Statement st = conn.createStatement();
                        ResultSet rs = st.executeQuery("select count(*)::int from pg_prepared_statements"
                                + " where statement like 'select $1::int * 2%'")) {
                    rs.next();
                    out.println("prepared: " + rs.getInt(1));
                }
                boolean named = loop.unwrap(PGStatement.class).isUseServerPrepare();

                // Denials: the simple protocol (a connection in simple
                // mode), a named statement, the extended protocol with a
                // parameter.
                try (Connection simple = connect(host, port, user, password, db, "simple");
                        Statement st = simple.createStatement()) {
                    denial("deny-drop", () -> st.execute("drop table if exists compat_t"));
                }
                try (PreparedStatement ps = conn.prepareStatement("truncate compat_t")) {
                    ps.unwrap(PGStatement.class).setPrepareThreshold(1);
                    denial("deny-truncate", ps::execute);
                }
                try (PreparedStatement ps =
                        conn.prepareStatement("delete from compat_t returning id + ?::int")) {
                    ps.setInt(1, 1);
                    denial("deny-delete", ps::execute);
                }
                out.println("after-denials: " + count(conn));
                // The named statement, parsed before the denials, still runs.
                out.println("loop-again: " + doubled(loop, 3));
                out.println("jdbc-server-prepared: " + named);
            }

            // A denial inside a transaction: the transaction goes on.
            conn.setAutoCommit(false);
            try (PreparedStatement ins = conn.prepareStatement("insert into compat_t values (?, ?, now())");
                    Statement st = conn.createStatement()) {
                ins.setInt(1, 4);
                ins.setString(2, "four");
                ins.executeUpdate();
                denial("deny-in-tx", () -> st.execute("drop table compat_t"));
                ins.setInt(1, 5);
                ins.setString(2, "five");
                ins.executeUpdate();
                conn.commit();
            }
            conn.setAutoCommit(true);
            try (PreparedStatement ps = conn.prepareStatement("delete from compat_t where id > ?")) {
                ps.setInt(1, 3);
                out.println("tx-commit: " + ps.executeUpdate());
            }
            out.println("final: " + count(conn));

            // What GUI tools do first: catalog queries through DatabaseMetaData.
            // In this session's own temp schema: the other clients' tests
            // create their own temp compat_t at the same time, and pgJDBC
            // lists every schema's when none is named.
            String tempSchema;
            try (Statement st = conn.createStatement();
                 ResultSet rs = st.executeQuery("select nspname from pg_namespace where oid = pg_my_temp_schema()")) {
                rs.next();
                tempSchema = rs.getString(1);
            }
            try (ResultSet rs = conn.getMetaData().getColumns(null, tempSchema, "compat_t", null)) {
                StringBuilder columns = new StringBuilder();
                while (rs.next()) {
                    columns.append(columns.length() == 0 ? "" : ",").append(rs.getString("COLUMN_NAME"));
                }
                out.println("jdbc-metadata: " + columns);
            }
        }

        try (Connection conn = connect(host, maskPort, user, maskPassword, db, "extended");
                PreparedStatement ps = conn.prepareStatement("select ?::text as email, 'plain'::text as note")) {
            ps.setString(1, "eve@example.com");
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                out.println("masked: " + rs.getString(1) + "|" + rs.getString(2));
            }
        }
        out.println("done");
    }
}
