-- One authentication of user0001 (as regress_shop, in the including
-- session), its SMS answered offline by the SIM of the world in :judge_dir
-- (mobisign-sim answer, behaviour sign) and delivered as the worker does;
-- shows the transaction's final state.  The SIM checks the request's
-- service provider signature with the certificate of :judge_dir/sp/cert.pem
-- (result 6, 209 OTA_ERROR, when it does not verify).  Needs :sim and the
-- functions request_sms() and deliver() of 80_sim_flow.
SET SESSION AUTHORIZATION regress_shop;
SELECT transaction_id AS judged FROM mobisign_authenticate('user0001', application => 'Keys') \gset
RESET SESSION AUTHORIZATION;
SELECT request_sms(:'judged') AS req \gset
\set answer `:'sim' answer --dir :'judge_dir' --msisdn 3585000000001 --request :'req' --behaviour sign 2>/dev/null`
SELECT deliver('3585000000001', :'answer') AS answers;
SELECT state, status_code, status_name, reason FROM mobisign_status(:'judged');
