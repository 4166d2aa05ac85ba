/*-------------------------------------------------------------------------
 *
 * answer.h
 *	  A SIM's answer as the server opens it, in one place: the SMS user data
 *	  of one answer (UDH included, any order) -> reassembled packet, which
 *	  must be a response packet (IEI 0x71) -> PoR verified (CC over
 *	  02 71 00 ...) and deciphered with one key set -> applet response
 *	  decoded when the PoR status is 00.
 *
 * mobisign._open_response (extension/sim_response.c) calls it for each key
 * set of the MSISDN, and the answer-path fuzzer (test/fuzz/fuzz_answer.c)
 * runs exactly the same steps.  The result's stage says how far the answer
 * got; the caller decides what to do (docs/sim-channel.md).
 *
 * Invariants: never allocates; every pointer in the result points into
 * buf; nothing from the packet is in the result before the stage
 * MSC_ANSWER_UNSECURED, and before MSC_ANSWER_POR nothing in it is
 * authenticated.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MSC_ANSWER_H
#define MSC_ANSWER_H

#include "applet.h"
#include "msc.h"
#include "ota.h"
#include "sms.h"

/* How far an answer got (each stage implies the ones before passed). */
typedef enum msc_answer_stage
{
	MSC_ANSWER_SMS,				/* not a complete response packet in SMS user
								 * data: rc from reassembly, or MSC_OK with
								 * packet_iei != 0x71 */
	MSC_ANSWER_TAR,				/* the packet's TAR is not the key set's */
	MSC_ANSWER_UNSECURED,		/* PoR without the CC: por.status untrusted */
	MSC_ANSWER_SECURITY,		/* CC, padding, SPI or length refused: rc */
	MSC_ANSWER_POR,				/* authentic PoR whose status is not 00 */
	MSC_ANSWER_APPLET,			/* authentic, applet response undecodable: rc */
	MSC_ANSWER_OK				/* authentic and a well-formed applet response */
} msc_answer_stage;

typedef struct msc_answer
{
	msc_answer_stage stage;
	msc_rc		rc;				/* result of the step that stopped it */
	uint8_t		packet_iei;		/* 0x71, 0x70 or 0 once reassembled */
	msc_ota_response por;		/* from MSC_ANSWER_UNSECURED on */
	msc_applet_response applet; /* MSC_ANSWER_OK */
} msc_answer;

/* Room msc_answer_open needs in buf: the packet and its deciphered copy. */
#define MSC_ANSWER_BUF_SIZE		(2 * MSC_SMS_MAX_PACKET)

/*
 * Open one answer made of parts[0..nparts) (as received, UDH included)
 * with one key set: spi2 is the SPI byte 2 the commands were sent with,
 * tar the key set's TAR.  buf (cap >= MSC_ANSWER_BUF_SIZE) receives the
 * packet and its deciphered form.  Returns MSC_E_ARG / MSC_E_BUFFER for
 * caller errors, MSC_E_SPI when spi2 does not ask for a PoR with a CC (the
 * stages from MSC_ANSWER_POR on mean authentic), else MSC_OK with out
 * filled (the stage tells the result).
 */
extern msc_rc msc_answer_open(const msc_sms_part *parts, size_t nparts,
							  uint8_t spi2, const msc_ota_keys *keys,
							  const uint8_t tar[MSC_OTA_TAR_LEN],
							  uint8_t *buf, size_t cap, msc_answer *out);

#endif							/* MSC_ANSWER_H */
