module github.com/sluicesql/sluice/bench/peers

go 1.26.0

require github.com/rulego/streamsql v1.1.2

require github.com/expr-lang/expr v1.17.8 // indirect
