package kafka

// SourceOptions returns the options a Kafka source accepts as '<name>.<option>'.
func SourceOptions() []string { return append([]string(nil), sourceOptions...) }

// SinkOptions returns the options a Kafka sink accepts as '<name>.<option>'.
func SinkOptions() []string { return append([]string(nil), sinkOptions...) }

// DeadLetterOptions returns the options of the dead-letter topic, given as
// 'dlq.<option>' (DeadLetterPrefix): how it connects and how it is created.
func DeadLetterOptions() []string {
	return append(append([]string(nil), connOptions...), topicOptions...)
}
