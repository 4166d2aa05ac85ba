#include "postgres.h"

#include "pki_store.h"

void
ms_pki_store_init(void)
{
}
