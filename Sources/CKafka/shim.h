#ifndef OMEN_CKAFKA_SHIM_H
#define OMEN_CKAFKA_SHIM_H
// librdkafka from Debian's librdkafka-dev, with its in-process mock cluster (tests, `omen bench kafka`).
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <string.h>
#include <stdio.h>

// Admin calls Swift would spell badly (arrays of C pointers, result events): synchronous helpers.

/// Number of partitions of `topic`, 0 when it does not exist, -1 with `errstr` set on failure.
/// Asks for every topic rather than this one: a metadata request for one topic makes brokers with
/// auto.create.topics.enable (and the mock cluster) create it with their default partition count.
static inline int omen_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms,
                                             char *errstr, size_t errsize) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (err) { snprintf(errstr, errsize, "%s", rd_kafka_err2str(err)); return -1; }
    int count = 0;
    for (int i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, topic) != 0) continue;
        if (md->topics[i].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) count = 0;
        else if (md->topics[i].err) {
            snprintf(errstr, errsize, "%s", rd_kafka_err2str(md->topics[i].err));
            count = -1;
        } else count = md->topics[i].partition_cnt;
        break;
    }
    rd_kafka_metadata_destroy(md);
    return count;
}

/// Creates `topic` with `partitions` (replication factor -1 = the broker's default); `compact` sets
/// cleanup.policy=compact. Returns 0 when created, 1 when it already existed, -1 with `errstr` set.
static inline int omen_kafka_create_topic(rd_kafka_t *rk, const char *topic, int partitions, int compact,
                                          int timeout_ms, char *errstr, size_t errsize) {
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, -1, errstr, errsize);
    if (!nt) return -1;
    if (compact) rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_AdminOptions_t *options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, NULL, 0);
    rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, options, queue);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(queue, timeout_ms + 1000);
    int result = -1;
    if (!ev) {
        snprintf(errstr, errsize, "no answer from the cluster within %d ms", timeout_ms);
    } else if (rd_kafka_event_error(ev)) {
        snprintf(errstr, errsize, "%s", rd_kafka_event_error_string(ev));
    } else {
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        size_t cnt = 0;
        const rd_kafka_topic_result_t **topics = rd_kafka_CreateTopics_result_topics(res, &cnt);
        if (cnt == 1) {
            rd_kafka_resp_err_t err = rd_kafka_topic_result_error(topics[0]);
            if (!err) result = 0;
            else if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) result = 1;
            else {
                const char *why = rd_kafka_topic_result_error_string(topics[0]);
                snprintf(errstr, errsize, "%s", why ? why : rd_kafka_err2str(err));
            }
        } else {
            snprintf(errstr, errsize, "unexpected CreateTopics answer");
        }
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(queue);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_NewTopic_destroy(nt);
    return result;
}

#endif
