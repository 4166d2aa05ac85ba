-- The server's key files of the fixtures' SIM world (80_sim_flow, and
-- sim_world.sql for 82_sign_hash and 84_receipt).  The master key wraps SIM
-- keys; the service provider's key signs every request.  They are server
-- settings (reloaded, not SET), reset at the end of each suite.  Sets
-- :fxdir, :sim, :simdir, :master_key, :sp_key and :sp_cert.
\getenv fxdir MOBISIGN_FIXTURES
\getenv sim MOBISIGN_SIM
\set simdir :fxdir '/sim'
\set master_key :simdir '/master.key'
\set sp_key :simdir '/sp/key.pem'
\set sp_cert :simdir '/sp/cert.pem'
ALTER SYSTEM SET mobisign.master_key_file = :'master_key';
ALTER SYSTEM SET mobisign.sp_key_file = :'sp_key';
ALTER SYSTEM SET mobisign.sp_cert_file = :'sp_cert';
SELECT pg_reload_conf();
SELECT pg_sleep(0.5);
\c -
