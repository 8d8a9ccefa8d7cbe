"""The CLETS simulator: agencies, operators, scenarios, ground truth; output to Kafka or an archive."""
