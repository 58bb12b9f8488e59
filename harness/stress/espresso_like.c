/* espresso-like: the allocation pattern of small symbolic programs such as
 * espresso and cfrac. Work proceeds in small steps that each build a short
 * list of temporaries from four node sizes (24, 40, 56, 120 B), combine them
 * and free them again, mostly in reverse order; one result in eight survives
 * for a while in a ring of 256, the rest die young. */
#include "stress_common.h"

static const size_t node_sizes[] = {24, 40, 56, 120};
enum { MAX_TEMPORARIES = 64, SURVIVORS = 256 };

struct node { struct node *next; size_t size; uint64_t value; };

static struct node *new_node(struct stress_rng *rng, struct node *next)
{
    uint64_t r = stress_next(rng) % 16;
    size_t size = node_sizes[r < 8 ? 0 : r < 12 ? 1 : r < 15 ? 2 : 3];
    struct node *n = stress_malloc_or_die(size);
    n->next = next;
    n->size = size;
    n->value = stress_next(rng) >> 8;
    return n;
}

static void worker(int index, void *shared)
{
    struct stress_steps *run = shared;
    struct stress_rng rng = stress_rng_seed(0xe5b4e550, (uint64_t)index);
    struct node *survivors[SURVIVORS] = {0};
    uint64_t sum = 0;
    for (uint64_t step = 0; step < run->steps_per_thread; step++) {
        int length = (int)stress_between(&rng, 1, MAX_TEMPORARIES);
        struct node *list = NULL;
        for (int i = 0; i < length; i++) list = new_node(&rng, list);
        uint64_t combined = 0;
        for (struct node *n = list; n; n = n->next) combined = combined * 31 + n->value;
        if (stress_next(&rng) % 8 == 0) {
            /* The result outlives this step, displacing an older survivor. */
            int slot = (int)stress_between(&rng, 0, SURVIVORS - 1);
            if (survivors[slot]) {
                sum += survivors[slot]->value;
                free(survivors[slot]);
            }
            survivors[slot] = new_node(&rng, NULL);
            survivors[slot]->value = combined;
        }
        while (list) {  /* newest first: the LIFO order of a recursive program */
            struct node *next = list->next;
            sum += list->value;
            free(list);
            list = next;
        }
    }
    for (int slot = 0; slot < SURVIVORS; slot++)
        if (survivors[slot]) {
            sum += survivors[slot]->value;
            free(survivors[slot]);
        }
    atomic_fetch_add(&run->checksum, sum);
}

int main(int argc, char **argv)
{
    return stress_steps_main(argc, argv, "espresso", 500000, STRESS_MAIN_WORKS, worker);
}
